// Agent SDK: check a commitment against its anchor on an EVM chain (contracts/VesAnchor.sol, ves-protocol.md §7,
// §16.11) without trusting the sequencer: reads the contract with the caller's viem public client and compares
// the range, the Merkle root, the new state root and the chain link; also recomputes the commitment's state root
// from its fields (§2.6). Browser-safe (viem and the pure rules only).
import type { Address, PublicClient } from "viem";
import { vesAnchorAbi } from "../../contracts/gen/vesAnchor.js";
import { equalBytes } from "../crypto/bytes.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import { nextStateRoot, streamId } from "../crypto/stateRoot.js";
import {
  type AnchorCheck,
  type AnchoredFields,
  checkAnchor,
  type Hex32,
  type OnChainCommitment,
  uuidToBytes32,
} from "../domain/anchor.js";
import type { Commitment } from "../domain/commitment.js";

export type AnchorToCheck = AnchoredFields;

export interface VerifyAnchorOptions {
  /** A viem public client of the anchor chain (any transport: http, webSocket, a browser wallet's). */
  readonly client: Pick<PublicClient, "readContract" | "getBlockNumber">;
  /** The VesAnchor contract (from GetAnchorStatus's target, or published by the operator). */
  readonly address: Address;
  /** Blocks the anchor must be deep to count as final; default 1 (anchored at all). */
  readonly confirmations?: number;
  readonly sha256?: Sha256;
}

export type AnchorVerdict =
  | {
      readonly valid: true;
      readonly blockNumber: bigint;
      readonly depth: bigint;
      /** depth >= confirmations. */
      readonly final: boolean;
    }
  | {
      readonly valid: false;
      readonly reason: Exclude<AnchorCheck, { valid: true }>["reason"] | "state_root_invalid";
      readonly message: string;
    };

/** The contract's record of the stream's commitment ending at `c.sequenceEnd`; undefined when none is anchored. */
export async function readAnchoredCommitment(
  c: Pick<Commitment, "tenantId" | "storeId" | "sequenceEnd">,
  opts: Pick<VerifyAnchorOptions, "client" | "address">,
): Promise<OnChainCommitment | undefined> {
  const v = await opts.client.readContract({
    address: opts.address,
    abi: vesAnchorAbi,
    functionName: "getCommitment",
    args: [uuidToBytes32(c.tenantId), uuidToBytes32(c.storeId), c.sequenceEnd],
  });
  return v.blockNumber === 0n
    ? undefined
    : {
        sequenceStart: v.sequenceStart,
        sequenceEnd: v.sequenceEnd,
        merkleRoot: v.merkleRoot as Hex32,
        prevStateRoot: v.prevStateRoot as Hex32,
        newStateRoot: v.newStateRoot as Hex32,
        blockNumber: v.blockNumber,
      };
}

export async function verifyAnchor(
  commitment: AnchorToCheck,
  opts: VerifyAnchorOptions,
): Promise<AnchorVerdict> {
  const sha256 = opts.sha256 ?? nobleSha256;
  const recomputed = nextStateRoot(sha256, {
    streamId: streamId(sha256, commitment.tenantId, commitment.storeId),
    prevStateRoot: commitment.prevStateRoot,
    merkleRoot: commitment.merkleRoot,
    sequenceStart: commitment.sequenceStart,
    sequenceEnd: commitment.sequenceEnd,
    leafCount: commitment.leafCount,
  });
  if (!equalBytes(recomputed, commitment.newStateRoot)) {
    return {
      valid: false,
      reason: "state_root_invalid",
      message: "the commitment's new state root is not the state-root hash of its fields (§2.6)",
    };
  }
  const [onChain, head] = await Promise.all([
    readAnchoredCommitment(commitment, opts),
    opts.client.getBlockNumber({ cacheTime: 0 }),
  ]);
  const check = checkAnchor(commitment, onChain);
  if (!check.valid || onChain === undefined) return check as Exclude<AnchorCheck, { valid: true }>;
  const depth = head >= onChain.blockNumber ? head - onChain.blockNumber + 1n : 0n;
  return {
    valid: true,
    blockNumber: onChain.blockNumber,
    depth,
    final: depth >= BigInt(opts.confirmations ?? 1),
  };
}
