// Use case: inclusion proofs for many events of one stream at once, grouped by commitment, for the receipt
// upgrades pushed on the Append stream. Events not sealed yet are left out.
import type { Commitment, InclusionProof } from "../domain/commitment.js";
import type { StreamKey } from "../domain/event.js";
import { toInclusionProof } from "./getInclusionProof.js";
import type { ProofDeps } from "./ports.js";

export interface ReceiptUpgradeGroup {
  readonly commitment: Commitment;
  readonly proofs: InclusionProof[];
}

export async function getReceiptUpgrades(
  deps: ProofDeps,
  stream: StreamKey,
  sequenceNumbers: readonly bigint[],
): Promise<ReceiptUpgradeGroup[]> {
  if (sequenceNumbers.length === 0) return [];
  const groups = await deps.commitments.inclusionBatch(stream, sequenceNumbers);
  return groups.map(({ commitment, events }) => ({
    commitment,
    proofs: events.map((e) => toInclusionProof(deps.sha256, stream, commitment, e)),
  }));
}
