// Anchoring rules (ves-protocol.md §7, §16.11): how a commitment is written for the anchor contract
// (contracts/VesAnchor.sol) and the pure decisions of the anchoring worker: what to anchor next, when a
// transaction is final, what a reorg undoes, which failures are retried soon.
import { bytesToHex, uuidToBytes } from "../crypto/bytes.js";
import type { Commitment } from "./commitment.js";

export type Hex32 = `0x${string}`;

/** A commitment as the contract's CommitmentInput takes it. */
export interface AnchorInput {
  readonly tenantId: Hex32;
  readonly storeId: Hex32;
  readonly sequenceStart: bigint;
  readonly sequenceEnd: bigint;
  readonly leafCount: number;
  readonly merkleRoot: Hex32;
  readonly prevStateRoot: Hex32;
  readonly newStateRoot: Hex32;
}

/** UUID → bytes32 as upstream does it: the 16 UUID bytes, then 16 zero bytes. */
export function uuidToBytes32(uuid: string): Hex32 {
  return `0x${bytesToHex(uuidToBytes(uuid))}${"0".repeat(32)}`;
}

export function hex32(b: Uint8Array): Hex32 {
  return `0x${bytesToHex(b)}`;
}

export function toAnchorInput(
  c: Pick<
    Commitment,
    | "tenantId"
    | "storeId"
    | "sequenceStart"
    | "sequenceEnd"
    | "leafCount"
    | "merkleRoot"
    | "prevStateRoot"
    | "newStateRoot"
  >,
): AnchorInput {
  return {
    tenantId: uuidToBytes32(c.tenantId),
    storeId: uuidToBytes32(c.storeId),
    sequenceStart: c.sequenceStart,
    sequenceEnd: c.sequenceEnd,
    leafCount: c.leafCount,
    merkleRoot: hex32(c.merkleRoot),
    prevStateRoot: hex32(c.prevStateRoot),
    newStateRoot: hex32(c.newStateRoot),
  };
}
