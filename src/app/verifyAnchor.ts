// Use case: read the anchor contract and compare its record of a commitment with the sequencer's (range, Merkle
// root, new state root, chain link).
import { type AnchorCheck, checkAnchor, type OnChainCommitment } from "../domain/anchor.js";
import type { Commitment } from "../domain/commitment.js";
import type { AnchorReadDeps } from "./anchorPorts.js";
import { type AnchorSelector, commitmentOf, requireAnchoring } from "./getAnchorStatus.js";

export interface AnchorVerification {
  readonly check: AnchorCheck;
  readonly commitment: Commitment;
  readonly onChain: OnChainCommitment | undefined;
  readonly depth: bigint;
  readonly final: boolean;
}

export async function verifyAnchor(
  deps: AnchorReadDeps,
  tenantId: string,
  storeId: string,
  selector: AnchorSelector | undefined,
): Promise<AnchorVerification> {
  const anchors = requireAnchoring(deps);
  const commitment = await commitmentOf(deps, tenantId, storeId, selector);
  const [onChain, head] = await Promise.all([
    anchors.commitmentAt(commitment, commitment.sequenceEnd),
    anchors.head(),
  ]);
  const depth =
    onChain === undefined || head === undefined || head < onChain.blockNumber
      ? 0n
      : head - onChain.blockNumber + 1n;
  return {
    check: checkAnchor(commitment, onChain),
    commitment,
    onChain,
    depth,
    final: depth >= BigInt(anchors.confirmations),
  };
}
