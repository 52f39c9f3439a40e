// Use case: one commitment of a stream, by id or by a sequence number it covers.
import { isUuid } from "../crypto/bytes.js";
import type { Commitment } from "../domain/commitment.js";
import { DomainError, invalidField, showValue } from "../domain/errors.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { CommitmentSelector, ProofDeps } from "./ports.js";

/** Checks a selector from a request: a commitment UUID, or a sequence number >= 1. */
export function parseCommitmentSelector(selector: CommitmentSelector | undefined): CommitmentSelector {
  if (selector === undefined) {
    throw invalidField("selector", "commitment_id or sequence_number", "neither");
  }
  if ("commitmentId" in selector) {
    if (!isUuid(selector.commitmentId)) {
      throw invalidField("commitment_id", "a UUID", showValue(selector.commitmentId));
    }
    return { commitmentId: selector.commitmentId.toLowerCase() };
  }
  if (selector.sequenceNumber < 1n) throw invalidField("sequence_number", "a number >= 1", "0");
  return selector;
}

export async function getCommitment(
  deps: ProofDeps,
  tenantId: string,
  storeId: string,
  selector: CommitmentSelector | undefined,
): Promise<Commitment> {
  const stream = parseStreamKey(tenantId, storeId);
  const sel = parseCommitmentSelector(selector);
  const commitment = await deps.commitments.get(stream, sel);
  if (commitment !== undefined) return commitment;
  if ("commitmentId" in sel) {
    throw new DomainError("not_found", `no commitment ${sel.commitmentId} in stream ${tenantId}/${storeId}`, {
      field: "commitment_id",
      actual: sel.commitmentId,
    });
  }
  const { head, latest } = await deps.commitments.syncState(stream);
  const sealed = latest?.sequenceEnd ?? 0n;
  if (sel.sequenceNumber > head) {
    throw new DomainError("not_found", `no event ${sel.sequenceNumber} in the stream: its head is ${head}`, {
      field: "sequence_number",
      expected: `1..${head}`,
      actual: `${sel.sequenceNumber}`,
    });
  }
  throw new DomainError(
    "failed_precondition",
    `event ${sel.sequenceNumber} is not sealed in a commitment yet: the stream's commitments end at ${sealed}; retry shortly`,
    { field: "sequence_number", expected: `1..${sealed}`, actual: `${sel.sequenceNumber}` },
  );
}
