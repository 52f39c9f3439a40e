// The rules for checking receipts (§2.4), inclusion proofs (§2.5), signed checkpoints and state-root chains
// (§2.6) without trusting the server. Shared by the SDK (src/client, with @noble) and the stateless verify RPCs
// (with native crypto). A well-formed but wrong input gives a verdict with a reason; malformed arguments (wrong
// types or byte lengths, too many siblings or links) throw TypeError / RangeError naming the field.
import { assertBytes, assertU32, assertU64, bytesToHex, equalBytes, ZERO32 } from "../crypto/bytes.js";
import { checkpointHash } from "../crypto/checkpoint.js";
import type { Ed25519 } from "../crypto/ed25519.js";
import { leafHash, verifyInclusionProof } from "../crypto/merkle.js";
import { receiptHash } from "../crypto/receiptHash.js";
import type { Sha256 } from "../crypto/sha256.js";
import { nextStateRoot, streamId } from "../crypto/stateRoot.js";
import {
  type Commitment,
  type ConsistencyProof,
  type InclusionProof,
  MAX_CONSISTENCY_LINKS,
} from "./commitment.js";

export type Verdict<Reason extends string> =
  | { readonly valid: true }
  | { readonly valid: false; readonly reason: Reason; readonly message: string };

export type ReceiptFailure = "signing_hash_mismatch" | "receipt_hash_mismatch" | "bad_signature";
export type InclusionFailure =
  | "leaf_hash_mismatch"
  | "leaf_index_mismatch"
  | "root_mismatch"
  | "path_mismatch";
export type CheckpointFailure =
  | "checkpoint_range_mismatch"
  | "state_root_mismatch"
  | "checkpoint_hash_mismatch"
  | "bad_checkpoint_signature";
export type ConsistencyFailure = "range_mismatch" | "state_root_mismatch";
export type SealedReceiptFailure =
  | ReceiptFailure
  | InclusionFailure
  | CheckpointFailure
  | "proof_mismatch"
  | "checkpoint_mismatch";

export interface ReceiptToCheck {
  readonly tenantId: string;
  readonly storeId: string;
  readonly eventId: string;
  readonly sequenceNumber: bigint;
  readonly eventSigningHash: Uint8Array;
  readonly receiptHash: Uint8Array;
  readonly sequencerSignature: Uint8Array;
}

export type InclusionProofToCheck = Omit<InclusionProof, "commitmentId">;

/** The signed fields of a commitment. An empty checkpointHash is not compared (it is recomputed anyway). */
export type CheckpointToCheck = Pick<
  Commitment,
  | "tenantId"
  | "storeId"
  | "sequenceStart"
  | "sequenceEnd"
  | "leafCount"
  | "merkleRoot"
  | "prevStateRoot"
  | "newStateRoot"
  | "checkpointHash"
  | "signature"
>;

const VALID = { valid: true } as const;

function fail<R extends string>(reason: R, message: string): Exclude<Verdict<R>, { readonly valid: true }> {
  return { valid: false, reason, message };
}

const short = (b: Uint8Array): string => `${bytesToHex(b).slice(0, 16)}…`;

/**
 * The checks of a receipt before its signature: the signing hash (when expected) and the receipt hash
 * recomputed from the fields. Returns the hash the sequencer's signature must verify over, or the failure.
 * Split from checkReceipt so a caller can verify many signatures elsewhere (the SDK's worker threads).
 */
export function checkReceiptFields(
  sha256: Sha256,
  r: ReceiptToCheck,
  expectedSigningHash?: Uint8Array,
):
  | { readonly valid: true; readonly receiptHash: Uint8Array }
  | Exclude<Verdict<ReceiptFailure>, { readonly valid: true }> {
  assertBytes(r.receiptHash, 32, "receipt_hash");
  if (expectedSigningHash !== undefined) {
    assertBytes(expectedSigningHash, 32, "expected_signing_hash");
    if (!equalBytes(expectedSigningHash, r.eventSigningHash)) {
      return fail("signing_hash_mismatch", "the receipt is for another event signing hash than expected");
    }
  }
  const expected = receiptHash(sha256, r);
  if (!equalBytes(expected, r.receiptHash)) {
    return fail("receipt_hash_mismatch", "receipt_hash is not the hash of the receipt's fields");
  }
  return { valid: true, receiptHash: expected };
}

/** Recomputes the receipt hash and checks the sequencer's signature over it. */
export function checkReceipt(
  crypto: { sha256: Sha256; ed25519: Ed25519 },
  r: ReceiptToCheck,
  publicKey: Uint8Array,
  expectedSigningHash?: Uint8Array,
): Verdict<ReceiptFailure> {
  const fields = checkReceiptFields(crypto.sha256, r, expectedSigningHash);
  if (!fields.valid) return fields;
  if (!crypto.ed25519.verify(r.sequencerSignature, fields.receiptHash, publicKey)) {
    return fail("bad_signature", "sequencer_signature does not verify under the sequencer key");
  }
  return VALID;
}

/**
 * Recomputes the leaf from the event's fields, checks the index is the event's position in the commitment and
 * folds the siblings up to merkle_root (which must equal `expectedRoot` when given).
 */
export function checkInclusionProof(
  sha256: Sha256,
  p: InclusionProofToCheck,
  expectedRoot?: Uint8Array,
): Verdict<InclusionFailure> {
  const leaf = leafHash(sha256, p);
  assertBytes(p.leafHash, 32, "leaf_hash");
  assertU64(p.sequenceStart, "sequence_start");
  assertU32(p.leafIndex, "leaf_index");
  assertBytes(p.merkleRoot, 32, "merkle_root");
  if (!equalBytes(leaf, p.leafHash)) {
    return fail("leaf_hash_mismatch", "leaf_hash is not the leaf of the event's fields");
  }
  if (p.sequenceNumber < p.sequenceStart || p.sequenceNumber - p.sequenceStart !== BigInt(p.leafIndex)) {
    return fail(
      "leaf_index_mismatch",
      `leaf_index ${p.leafIndex} is not sequence ${p.sequenceNumber} - sequence_start ${p.sequenceStart}`,
    );
  }
  if (
    expectedRoot !== undefined &&
    !equalBytes(assertBytes(expectedRoot, 32, "expected_root"), p.merkleRoot)
  ) {
    return fail(
      "root_mismatch",
      `merkle_root ${short(p.merkleRoot)} is not the expected ${short(expectedRoot)}`,
    );
  }
  const ok = verifyInclusionProof(sha256, {
    leafHash: leaf,
    leafIndex: p.leafIndex,
    siblings: p.siblings,
    root: p.merkleRoot,
    leafCount: p.leafCount,
  });
  if (!ok) return fail("path_mismatch", "the siblings do not lead from the leaf to merkle_root");
  return VALID;
}

/**
 * Checks a signed checkpoint: a sane range, new_state_root recomputed from its inputs (§2.6), the checkpoint
 * hash recomputed, and the sequencer's Ed25519 signature over it.
 */
export function checkCheckpoint(
  crypto: { sha256: Sha256; ed25519: Ed25519 },
  c: CheckpointToCheck,
  publicKey: Uint8Array,
): Verdict<CheckpointFailure> {
  assertU64(c.sequenceStart, "sequence_start");
  assertU64(c.sequenceEnd, "sequence_end");
  assertU32(c.leafCount, "leaf_count");
  if (c.sequenceStart < 1n || c.sequenceEnd < c.sequenceStart) {
    return fail(
      "checkpoint_range_mismatch",
      `range ${c.sequenceStart}..${c.sequenceEnd} is empty or starts at 0`,
    );
  }
  if (BigInt(c.leafCount) !== c.sequenceEnd - c.sequenceStart + 1n) {
    return fail(
      "checkpoint_range_mismatch",
      `leaf_count ${c.leafCount} does not match the range ${c.sequenceStart}..${c.sequenceEnd}`,
    );
  }
  const sid = streamId(crypto.sha256, c.tenantId, c.storeId);
  const stateRoot = nextStateRoot(crypto.sha256, { streamId: sid, ...c });
  if (!equalBytes(stateRoot, assertBytes(c.newStateRoot, 32, "new_state_root"))) {
    return fail("state_root_mismatch", "new_state_root is not the state root of the checkpoint's fields");
  }
  const hash = checkpointHash(crypto.sha256, c);
  if (
    c.checkpointHash.length !== 0 &&
    !equalBytes(hash, assertBytes(c.checkpointHash, 32, "checkpoint_hash"))
  ) {
    return fail("checkpoint_hash_mismatch", "checkpoint_hash is not the hash of the checkpoint's fields");
  }
  if (!crypto.ed25519.verify(c.signature, hash, publicKey)) {
    return fail(
      "bad_checkpoint_signature",
      "the checkpoint signature does not verify under the sequencer key",
    );
  }
  return VALID;
}

/**
 * Checks that to_state_root extends from_state_root: the links cover from_sequence_end + 1 .. to_sequence_end
 * with no gap or overlap, and folding them into the state root from from_state_root gives to_state_root.
 */
export function checkConsistencyProof(sha256: Sha256, p: ConsistencyProof): Verdict<ConsistencyFailure> {
  // (Cast: Array.isArray would narrow the links to any[].)
  if (!Array.isArray(p.links as unknown))
    throw new TypeError(`"links" expected an array, got ${typeof p.links}`);
  if (p.links.length > MAX_CONSISTENCY_LINKS) {
    throw new RangeError(`"links" expected at most ${MAX_CONSISTENCY_LINKS} links, got ${p.links.length}`);
  }
  const sid = streamId(sha256, p.tenantId, p.storeId);
  let root = assertBytes(p.fromStateRoot, 32, "from_state_root");
  assertBytes(p.toStateRoot, 32, "to_state_root");
  if (p.fromSequenceEnd === 0n && !equalBytes(root, ZERO32)) {
    return fail(
      "state_root_mismatch",
      "from_sequence_end 0 is the genesis, whose state root is 32 zero bytes",
    );
  }
  let next = assertU64(p.fromSequenceEnd, "from_sequence_end") + 1n;
  assertU64(p.toSequenceEnd, "to_sequence_end");
  for (const [i, link] of p.links.entries()) {
    assertU64(link.sequenceStart, `links[${i}].sequence_start`);
    assertU64(link.sequenceEnd, `links[${i}].sequence_end`);
    assertU32(link.leafCount, `links[${i}].leaf_count`);
    if (link.sequenceStart !== next) {
      return fail("range_mismatch", `links[${i}] starts at ${link.sequenceStart}, expected ${next}`);
    }
    if (
      link.sequenceEnd < link.sequenceStart ||
      BigInt(link.leafCount) !== link.sequenceEnd - link.sequenceStart + 1n
    ) {
      return fail(
        "range_mismatch",
        `links[${i}] covers ${link.sequenceStart}..${link.sequenceEnd} with leaf_count ${link.leafCount}`,
      );
    }
    root = nextStateRoot(sha256, {
      streamId: sid,
      prevStateRoot: root,
      merkleRoot: assertBytes(link.merkleRoot, 32, `links[${i}].merkle_root`),
      sequenceStart: link.sequenceStart,
      sequenceEnd: link.sequenceEnd,
      leafCount: link.leafCount,
    });
    next = link.sequenceEnd + 1n;
  }
  if (next - 1n !== p.toSequenceEnd) {
    return fail("range_mismatch", `the links end at ${next - 1n}, expected ${p.toSequenceEnd}`);
  }
  if (!equalBytes(root, p.toStateRoot)) {
    return fail("state_root_mismatch", "folding the links from from_state_root does not give to_state_root");
  }
  return VALID;
}

export interface SealedReceipt {
  readonly receipt: ReceiptToCheck;
  readonly proof: InclusionProofToCheck;
  readonly checkpoint: CheckpointToCheck;
}

/**
 * A receipt upgraded by an inclusion proof and a signed checkpoint: the receipt verifies, the proof is for the
 * receipt's event and leads to the checkpoint's root, and the checkpoint verifies. `checkpointKey` defaults to
 * `receiptKey` (both are the sequencer's key unless it rotated in between).
 */
export function checkSealedReceipt(
  crypto: { sha256: Sha256; ed25519: Ed25519 },
  s: SealedReceipt,
  keys: { receiptKey: Uint8Array; checkpointKey?: Uint8Array | undefined },
  expectedSigningHash?: Uint8Array,
): Verdict<SealedReceiptFailure> {
  const receipt = checkReceipt(crypto, s.receipt, keys.receiptKey, expectedSigningHash);
  if (!receipt.valid) return receipt;
  const { receipt: r, proof: p, checkpoint: c } = s;
  if (
    p.tenantId.toLowerCase() !== r.tenantId.toLowerCase() ||
    p.storeId.toLowerCase() !== r.storeId.toLowerCase() ||
    p.eventId.toLowerCase() !== r.eventId.toLowerCase() ||
    p.sequenceNumber !== r.sequenceNumber ||
    !equalBytes(p.eventSigningHash, r.eventSigningHash)
  ) {
    return fail("proof_mismatch", "the inclusion proof is for another event than the receipt");
  }
  if (
    c.tenantId.toLowerCase() !== p.tenantId.toLowerCase() ||
    c.storeId.toLowerCase() !== p.storeId.toLowerCase() ||
    c.sequenceStart !== p.sequenceStart ||
    c.leafCount !== p.leafCount
  ) {
    return fail("checkpoint_mismatch", "the inclusion proof is for another commitment than the checkpoint");
  }
  const inclusion = checkInclusionProof(crypto.sha256, p, c.merkleRoot);
  if (!inclusion.valid) return inclusion;
  return checkCheckpoint(crypto, c, keys.checkpointKey ?? keys.receiptKey);
}
