// Use case: inclusion proofs for many events of one stream at once, grouped by commitment (§2.5). Serves
// GetInclusionProofs and the receipt upgrades pushed on the Append stream. Events not sealed yet are left out.
// Every proof is checked before it leaves the server; a commitment that does not check out is data loss.
import { equalBytes } from "../crypto/bytes.js";
import { inclusionProof } from "../crypto/merkle.js";
import type { Sha256 } from "../crypto/sha256.js";
import { buildCommitment } from "../domain/buildCommitment.js";
import type { Commitment, InclusionProof } from "../domain/commitment.js";
import { DomainError, invalidField } from "../domain/errors.js";
import type { StreamKey } from "../domain/event.js";
import { parseStreamKey } from "../domain/streamKey.js";
import { toInclusionProof } from "./getInclusionProof.js";
import type { ProofDeps, SealedLeaf } from "./ports.js";

export const MAX_PROOFS_PER_CALL = 1000;

export interface ProofGroup {
  readonly commitment: Commitment;
  readonly proofs: InclusionProof[];
}

// At least one requested event per this many sequence numbers of their span counts as dense (a receipt
// upgrade asks for about a commitment's worth). Dense requests rebuild each covering commitment from its events
// and check it against the stored one, which checks every proof taken from it (a few ms per 1,024 events);
// sparse ones read just the siblings each proof needs and check each proof.
const DENSE_FACTOR = 16n;

function isDense(sequenceNumbers: readonly bigint[]): boolean {
  let min = sequenceNumbers[0] as bigint;
  let max = min;
  for (const n of sequenceNumbers) {
    if (n < min) min = n;
    if (n > max) max = n;
  }
  return BigInt(sequenceNumbers.length) * DENSE_FACTOR >= max - min + 1n;
}

/** Proofs of the `wanted` events of a commitment, from its tree rebuilt out of all its events. */
function proofsFromRange(
  sha256: Sha256,
  stream: StreamKey,
  commitment: Commitment,
  events: readonly SealedLeaf[],
  wanted: ReadonlySet<bigint>,
): InclusionProof[] {
  const tip = { sequenceEnd: commitment.sequenceStart - 1n, newStateRoot: commitment.prevStateRoot };
  const rebuilt = buildCommitment(sha256, stream, tip, events);
  if (
    rebuilt.sequenceEnd !== commitment.sequenceEnd ||
    !equalBytes(rebuilt.merkleRoot, commitment.merkleRoot) ||
    !equalBytes(rebuilt.newStateRoot, commitment.newStateRoot)
  ) {
    throw new DomainError(
      "data_loss",
      `commitment ${commitment.commitmentId} does not recompute from the events it covers`,
    );
  }
  const level0 = rebuilt.tree.levels[0] as Uint8Array[];
  const proofs: InclusionProof[] = [];
  for (const [i, e] of events.entries()) {
    if (!wanted.has(e.sequenceNumber)) continue;
    proofs.push({
      ...stream,
      eventId: e.eventId,
      sequenceNumber: e.sequenceNumber,
      eventSigningHash: e.eventSigningHash,
      agentSignature: e.agentSignature,
      leafHash: level0[i] as Uint8Array,
      commitmentId: commitment.commitmentId,
      sequenceStart: commitment.sequenceStart,
      leafCount: commitment.leafCount,
      leafIndex: i,
      siblings: inclusionProof(rebuilt.tree, i),
      merkleRoot: commitment.merkleRoot,
    });
  }
  return proofs;
}

/** The sealed ones among `sequenceNumbers`, grouped by commitment in sequence order. */
export async function inclusionProofsOf(
  deps: ProofDeps,
  stream: StreamKey,
  sequenceNumbers: readonly bigint[],
): Promise<ProofGroup[]> {
  if (sequenceNumbers.length === 0) return [];
  if (isDense(sequenceNumbers)) {
    const wanted = new Set(sequenceNumbers);
    const ranges = await deps.commitments.sealedRanges(stream, sequenceNumbers);
    return ranges
      .map(({ commitment, events }) => ({
        commitment,
        proofs: proofsFromRange(deps.sha256, stream, commitment, events, wanted),
      }))
      .filter((g) => g.proofs.length > 0);
  }
  const groups = await deps.commitments.inclusionSlices(stream, sequenceNumbers);
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
