// Use case: where the commitment covering an event (or a commitment by id) stands on the anchor chain.

import { isUuid } from "../crypto/bytes.js";
import type { AnchorRecord, AnchorStatus } from "../domain/anchor.js";
import type { Commitment } from "../domain/commitment.js";
import { DomainError, invalidField, showValue } from "../domain/errors.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { AnchorReadDeps, AnchorReader, StreamFailure } from "./anchorPorts.js";
import { getCommitment } from "./getCommitment.js";

export type AnchorSelector =
  | { readonly commitmentId: string }
  | { readonly sequenceNumber: bigint }
  | { readonly eventId: string };

export interface AnchorStatusView {
  readonly state: "not_anchored" | AnchorStatus;
  readonly commitment: Commitment;
  readonly record: AnchorRecord | undefined;
  readonly depth: bigint;
  readonly failure: StreamFailure | undefined;
}

export function requireAnchoring(deps: AnchorReadDeps): AnchorReader {
  if (deps.anchors === undefined) {
    throw new DomainError(
      "failed_precondition",
      "this sequencer does not anchor commitments (ANCHOR_RPC_URL is not set)",
    );
  }
  return deps.anchors;
}

/** The commitment a selector names; NOT_FOUND / FAILED_PRECONDITION as GetCommitment and GetInclusionProof. */
export async function commitmentOf(
  deps: AnchorReadDeps,
  tenantId: string,
  storeId: string,
  selector: AnchorSelector | undefined,
): Promise<Commitment> {
  if (selector === undefined || !("eventId" in selector)) {
    return getCommitment(deps.proof, tenantId, storeId, selector);
  }
  if (!isUuid(selector.eventId)) throw invalidField("event_id", "a UUID", showValue(selector.eventId));
  const stream = parseStreamKey(tenantId, storeId);
  const found = await deps.proof.commitments.inclusion(stream, { eventId: selector.eventId.toLowerCase() });
  if (found.kind === "not_found") {
    throw new DomainError("not_found", `no event ${selector.eventId} in stream ${tenantId}/${storeId}`, {
      field: "event_id",
      actual: selector.eventId,
    });
  }
  if (found.kind === "unsealed") {
    throw new DomainError(
      "failed_precondition",
      `event ${selector.eventId} (sequence ${found.sequenceNumber}) is not sealed in a commitment yet; retry shortly`,
      { field: "event_id", actual: selector.eventId },
    );
  }
  return found.commitment;
}

export async function getAnchorStatus(
  deps: AnchorReadDeps,
  tenantId: string,
  storeId: string,
  selector: AnchorSelector | undefined,
): Promise<AnchorStatusView> {
  const anchors = requireAnchoring(deps);
  const commitment = await commitmentOf(deps, tenantId, storeId, selector);
  const [record, failure] = await Promise.all([
    anchors.record(commitment.commitmentId),
    anchors.streamFailure(commitment),
  ]);
  let depth = 0n;
  if (record?.blockNumber !== undefined) {
    const head = await anchors.head();
    if (head !== undefined && head >= record.blockNumber) depth = head - record.blockNumber + 1n;
  }
  return { state: record?.status ?? "not_anchored", commitment, record, depth, failure };
}
