// Use case: the links of the state-root chain from one commitment (or the genesis) to a later one (§2.6).
import { ZERO32 } from "../crypto/bytes.js";
import { type Commitment, type ConsistencyProof, MAX_CONSISTENCY_LINKS } from "../domain/commitment.js";
import { DomainError, invalidField } from "../domain/errors.js";
import { parseStreamKey } from "../domain/streamKey.js";
import { parseCommitmentSelector } from "./getCommitment.js";
import type { ProofDeps } from "./ports.js";

export interface ConsistencyProofResult {
  readonly proof: ConsistencyProof;
  /** undefined for the genesis. */
  readonly from: Commitment | undefined;
  readonly to: Commitment;
}

export async function getConsistencyProof(
  deps: ProofDeps,
  tenantId: string,
  storeId: string,
  fromCommitmentId: string,
  toCommitmentId: string,
): Promise<ConsistencyProofResult> {
  const stream = parseStreamKey(tenantId, storeId);
  const load = async (field: string, id: string): Promise<Commitment> => {
    const sel = parseCommitmentSelector({ commitmentId: id });
    const c = await deps.commitments.get(stream, sel);
    if (c === undefined) {
      throw new DomainError("not_found", `no commitment ${id} in stream ${tenantId}/${storeId}`, {
        field,
        actual: id,
      });
    }
    return c;
  };
  const from = fromCommitmentId === "" ? undefined : await load("from_commitment_id", fromCommitmentId);
  let to: Commitment;
  if (toCommitmentId === "") {
    const { latest } = await deps.commitments.syncState(stream);
    if (latest === undefined) {
      throw new DomainError("failed_precondition", "the stream has no commitment yet", {
        field: "to_commitment_id",
      });
    }
    to = latest;
  } else {
    to = await load("to_commitment_id", toCommitmentId);
  }
  const fromEnd = from?.sequenceEnd ?? 0n;
  if (fromEnd > to.sequenceEnd) {
    throw invalidField(
      "from_commitment_id",
      `a commitment at or before to_commitment_id (ending at ${to.sequenceEnd})`,
      `one ending at ${fromEnd}`,
    );
  }
  const links = await deps.commitments.stateLinks(stream, fromEnd, to.sequenceEnd, MAX_CONSISTENCY_LINKS + 1);
  if (links.length > MAX_CONSISTENCY_LINKS) {
    throw new DomainError(
      "out_of_range",
      `more than ${MAX_CONSISTENCY_LINKS} commitments lie between the two; ask for a proof to an intermediate commitment first`,
      { field: "to_commitment_id", expected: `<= ${MAX_CONSISTENCY_LINKS} links` },
    );
  }
  return {
    proof: {
      ...stream,
      fromSequenceEnd: fromEnd,
      fromStateRoot: from?.newStateRoot ?? ZERO32,
      toSequenceEnd: to.sequenceEnd,
      toStateRoot: to.newStateRoot,
      links,
    },
    from,
    to,
  };
}
