// Use case: the Merkle inclusion proof of one event, with its commitment and receipt (§2.5). An event not yet
// sealed is a failed precondition, not an error of the caller's.
import { bytesToHex, equalBytes, isUuid } from "../crypto/bytes.js";
import { leafHash, verifyInclusionProof } from "../crypto/merkle.js";
import type { Sha256 } from "../crypto/sha256.js";
import type { Commitment, InclusionProof } from "../domain/commitment.js";
import { DomainError, invalidField, showValue } from "../domain/errors.js";
import type { Receipt, StreamKey } from "../domain/event.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { EventSelector, ProofDeps, SealedEvent } from "./ports.js";

export interface InclusionProofResult {
  readonly proof: InclusionProof;
  readonly commitment: Commitment;
  readonly receipt: Receipt;
}

/**
 * The proof of `event` in `commitment`, checked before it leaves the server: a proof that does not verify
 * means the stored tree or the log is damaged (DomainError "data_loss"), never something to hand out.
 */
export function toInclusionProof(
  sha256: Sha256,
  stream: StreamKey,
  commitment: Commitment,
  event: SealedEvent,
): InclusionProof {
  const leaf = leafHash(sha256, {
    tenantId: stream.tenantId,
    storeId: stream.storeId,
    sequenceNumber: event.sequenceNumber,
    eventSigningHash: event.eventSigningHash,
    agentSignature: event.agentSignature,
  });
  const leafIndex = Number(event.sequenceNumber - commitment.sequenceStart);
  const path = {
    leafHash: leaf,
    leafIndex,
    siblings: event.siblings,
    root: commitment.merkleRoot,
    leafCount: commitment.leafCount,
  };
  if (!verifyInclusionProof(sha256, path)) {
    throw new DomainError(
      "data_loss",
      `the stored tree of commitment ${commitment.commitmentId} gives no valid proof for event ${event.sequenceNumber}`,
    );
  }
  return {
    tenantId: stream.tenantId,
    storeId: stream.storeId,
    eventId: event.eventId,
    sequenceNumber: event.sequenceNumber,
    eventSigningHash: event.eventSigningHash,
    agentSignature: event.agentSignature,
    leafHash: leaf,
    commitmentId: commitment.commitmentId,
    sequenceStart: commitment.sequenceStart,
    leafCount: commitment.leafCount,
    leafIndex,
    siblings: event.siblings,
    merkleRoot: commitment.merkleRoot,
  };
}

function parseEventSelector(selector: EventSelector | undefined): EventSelector {
  if (selector === undefined) throw invalidField("selector", "event_id or sequence_number", "neither");
  if ("eventId" in selector) {
    if (!isUuid(selector.eventId)) throw invalidField("event_id", "a UUID", showValue(selector.eventId));
    return { eventId: selector.eventId.toLowerCase() };
  }
  if (selector.sequenceNumber < 1n) throw invalidField("sequence_number", "a number >= 1", "0");
  return selector;
}

export async function getInclusionProof(
  deps: ProofDeps,
  tenantId: string,
  storeId: string,
  selector: EventSelector | undefined,
  expectedRoot: Uint8Array | undefined,
): Promise<InclusionProofResult> {
  const stream = parseStreamKey(tenantId, storeId);
  const sel = parseEventSelector(selector);
  if (expectedRoot !== undefined && expectedRoot.length !== 32) {
    throw invalidField("expected_root", "32 bytes (or none)", `${expectedRoot.length} bytes`);
  }
  const found = await deps.commitments.inclusion(stream, sel);
  if (found.kind === "not_found") {
    const field = "eventId" in sel ? "event_id" : "sequence_number";
    const what = "eventId" in sel ? sel.eventId : `${sel.sequenceNumber}`;
    throw new DomainError("not_found", `no event ${what} in stream ${stream.tenantId}/${stream.storeId}`, {
      field,
      actual: what,
    });
  }
  if (found.kind === "unsealed") {
    const { latest } = await deps.commitments.syncState(stream);
    const sealed = latest?.sequenceEnd ?? 0n;
    throw new DomainError(
      "failed_precondition",
      `event ${found.eventId} (sequence ${found.sequenceNumber}) is not sealed in a commitment yet: the stream's commitments end at ${sealed}; retry shortly`,
      {
        field: "eventId" in sel ? "event_id" : "sequence_number",
        expected: `sealed (<= ${sealed})`,
        actual: `${found.sequenceNumber}`,
      },
    );
  }
  const { commitment, event, receipt } = found;
  if (expectedRoot !== undefined && !equalBytes(expectedRoot, commitment.merkleRoot)) {
    throw new DomainError(
      "failed_precondition",
      `the event is in commitment ${commitment.commitmentId}, whose Merkle root is not the expected root`,
      {
        field: "expected_root",
        expected: bytesToHex(commitment.merkleRoot),
        actual: bytesToHex(expectedRoot),
      },
    );
  }
  return { proof: toInclusionProof(deps.sha256, stream, commitment, event), commitment, receipt };
}
