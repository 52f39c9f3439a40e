// Use case: inclusion proofs for many events of one stream at once, grouped by commitment (§2.5). Serves
// GetInclusionProofs and the receipt upgrades pushed on the Append stream. Events not sealed yet are left out.
import type { Commitment, InclusionProof } from "../domain/commitment.js";
import { invalidField } from "../domain/errors.js";
import type { StreamKey } from "../domain/event.js";
import { parseStreamKey } from "../domain/streamKey.js";
import { toInclusionProof } from "./getInclusionProof.js";
import type { ProofDeps } from "./ports.js";

export const MAX_PROOFS_PER_CALL = 1000;

export interface ProofGroup {
  readonly commitment: Commitment;
  readonly proofs: InclusionProof[];
}

/** The sealed ones among `sequenceNumbers`, grouped by commitment in sequence order. */
export async function inclusionProofsOf(
  deps: ProofDeps,
  stream: StreamKey,
  sequenceNumbers: readonly bigint[],
): Promise<ProofGroup[]> {
  if (sequenceNumbers.length === 0) return [];
  const groups = await deps.commitments.inclusionBatch(stream, sequenceNumbers);
  return groups.map(({ commitment, events }) => ({
    commitment,
    proofs: events.map((e) => toInclusionProof(deps.sha256, stream, commitment, e)),
  }));
}

export interface InclusionProofsResult {
  readonly groups: ProofGroup[];
  /** Requested sequence numbers without a proof (not sealed yet, or past the head), in order. */
  readonly unsealed: bigint[];
}

export async function getInclusionProofs(
  deps: ProofDeps,
  tenantId: string,
  storeId: string,
  sequenceNumbers: readonly bigint[],
): Promise<InclusionProofsResult> {
  const stream = parseStreamKey(tenantId, storeId);
  if (sequenceNumbers.length === 0 || sequenceNumbers.length > MAX_PROOFS_PER_CALL) {
    throw invalidField(
      "sequence_numbers",
      `1..${MAX_PROOFS_PER_CALL} sequence numbers`,
      `${sequenceNumbers.length}`,
    );
  }
  const wanted = [...new Set(sequenceNumbers)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (wanted[0] === 0n) throw invalidField("sequence_numbers", "sequence numbers >= 1", "0");
  const groups = await inclusionProofsOf(deps, stream, wanted);
  const proved = new Set(groups.flatMap((g) => g.proofs.map((p) => p.sequenceNumber)));
  return { groups, unsealed: wanted.filter((n) => !proved.has(n)) };
}
