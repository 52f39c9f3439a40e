// Use case: one page of an entity's events in order, with the entity's current version (GetEntityHistory).
import { utf8ByteLength } from "../crypto/bytes.js";
import { invalidField } from "../domain/errors.js";
import type { StoredEvent } from "../domain/event.js";
import { READ_LIMITS, STRING_LIMITS } from "../domain/limits.js";
import { checkCursor, checkPageLimit } from "../domain/readRange.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { EventReader } from "./ports.js";
import { readerFor } from "./readerFor.js";

export interface GetEntityHistoryInput {
  readonly tenantId: string;
  readonly storeId: string;
  readonly entityType: string;
  readonly entityId: string;
  /** 0 and 1 both mean the entity's first event. */
  readonly fromVersion: bigint;
  readonly limit: number;
}

export interface EntityHistory {
  /** Versions nextVersion - events.length .. nextVersion - 1, in order. */
  readonly events: readonly StoredEvent[];
  readonly currentVersion: bigint;
  readonly nextVersion: bigint;
  readonly hasMore: boolean;
}

function checkText(field: "entity_type" | "entity_id", value: string): string {
  const n = utf8ByteLength(value);
  const max = STRING_LIMITS[field];
  if (n < 1 || n > max) throw invalidField(field, `1..${max} UTF-8 bytes`, `${n}`);
  return value;
}

/** Throws DomainError: invalid_argument (naming the field), out_of_range (from_version past current + 1). */
export async function getEntityHistory(
  deps: { readonly reader: EventReader },
  input: GetEntityHistoryInput,
): Promise<EntityHistory> {
  const stream = parseStreamKey(input.tenantId, input.storeId);
  const entityType = checkText("entity_type", input.entityType);
  const entityId = checkText("entity_id", input.entityId);
  const limit = checkPageLimit(input.limit);
  let reader = await readerFor(deps.reader, stream, 0n);
  let current = await reader.entityVersion(stream, entityType, entityId);
  if (input.fromVersion > current + 1n && deps.reader.route !== undefined) {
    // The client saw versions this replica has not applied yet: ask the primary.
    reader = await readerFor(deps.reader, stream, "latest");
    current = await reader.entityVersion(stream, entityType, entityId);
  }
  const from = checkCursor(input.fromVersion, current, "from_version", "the entity's current version");
  if (from > current) return { events: [], currentVersion: current, nextVersion: from, hasMore: false };

  const end = from + BigInt(limit) - 1n;
  const to = end < current ? end : current;
  const result = await reader.entityEvents(stream, entityType, entityId, {
    from,
    to,
    limit,
    maxBytes: READ_LIMITS.maxPageBytes,
  });
  // Versions up to the committed current version all exist; stop before any that does not (never skip one).
  let n = 0;
  while (n < result.events.length && result.events[n]?.entityVersion === from + BigInt(n)) n++;
  const events = n === result.events.length ? result.events : result.events.slice(0, n);
  const next = from + BigInt(n);
  return { events, currentVersion: current, nextVersion: next, hasMore: next <= current };
}
