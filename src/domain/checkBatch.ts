// Batch-level checks (docs/protocol.md §1.2, handler steps 1, 2 and 6): these refuse the whole batch.
import { isUuid, utf8ByteLength } from "../crypto/bytes.js";
import { assertDbText } from "./dbDomain.js";
import { DomainError, invalidField, showValue } from "./errors.js";
import type { EventInput, StreamKey } from "./event.js";
import { type Limits, MAX_BATCH_ID_BYTES } from "./limits.js";

/** Checks the batch id, the event count and that every event names the same valid stream; returns that stream. */
export function checkBatch(batchId: string, events: readonly EventInput[], limits: Limits): StreamKey {
  const idBytes = utf8ByteLength(batchId);
  if (idBytes < 1 || idBytes > MAX_BATCH_ID_BYTES) {
    throw invalidField("batch_id", `1..${MAX_BATCH_ID_BYTES} UTF-8 bytes`, `${idBytes}`);
  }
  assertDbText(batchId, "batch_id");
  if (events.length === 0) throw invalidField("events", `1..${limits.maxEventsPerBatch} events`, "0");
  if (events.length > limits.maxEventsPerBatch) {
    throw new DomainError(
      "resource_exhausted",
      `"events" expected at most ${limits.maxEventsPerBatch} events per batch, got ${events.length}`,
      { field: "events", expected: `<= ${limits.maxEventsPerBatch}`, actual: `${events.length}` },
    );
  }
  const first = events[0] as EventInput;
  for (const [i, e] of events.entries()) {
    // Most batches repeat the first event's strings exactly; only a different spelling needs a closer look.
    if (i > 0 && e.tenantId === first.tenantId && e.storeId === first.storeId) continue;
    if (!isUuid(e.tenantId)) throw invalidField(`events[${i}].tenant_id`, "a UUID", showValue(e.tenantId));
    if (!isUuid(e.storeId)) throw invalidField(`events[${i}].store_id`, "a UUID", showValue(e.storeId));
    if (e.tenantId.toLowerCase() !== first.tenantId.toLowerCase()) {
      throw invalidField(
        `events[${i}].tenant_id`,
        `the batch's tenant ${first.tenantId}`,
        showValue(e.tenantId),
      );
    }
    if (e.storeId.toLowerCase() !== first.storeId.toLowerCase()) {
      throw invalidField(`events[${i}].store_id`, `the batch's store ${first.storeId}`, showValue(e.storeId));
    }
  }
  return { tenantId: first.tenantId.toLowerCase(), storeId: first.storeId.toLowerCase() };
}
