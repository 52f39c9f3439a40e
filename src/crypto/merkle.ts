// VES Merkle tree: domain-separated leaves and nodes, PAD_LEAF padding, proofs (docs/protocol.md §2.5).
import { assertBytes, assertU64, assertUuid, equalBytes, hexToBytes, writeUuid } from "./bytes.js";
import { DOMAIN_LEAF, DOMAIN_NODE } from "./domains.js";
import type { Sha256 } from "./sha256.js";

/** PAD_LEAF = H("VES_PAD_LEAF_V1"). Treat as read-only. */
export const PAD_LEAF: Uint8Array = hexToBytes(
  "d9dd0e003ba5370a698013c48ed69c6c41d9ebc1236d44b280c52ceacfdad524",
  "PAD_LEAF",
  32,
);

/** The verify endpoints' cap on proof length (upstream hardening: unbounded paths were a DoS vector). */
export const MAX_PROOF_SIBLINGS = 64;

export interface LeafFields {
  readonly tenantId: string;
  readonly storeId: string;
  readonly sequenceNumber: bigint;
  readonly eventSigningHash: Uint8Array;
  /** The 64-byte Ed25519 agent signature (64 zero bytes for PQC-strict events). */
  readonly agentSignature: Uint8Array;
}

/**
 * A built tree. `levels[0]` holds the padded leaves and the last level is `[root]`; an empty tree has no
 * levels. Levels share the caller's leaf arrays and one PAD_LEAF instance: treat every array as read-only.
 */
export interface MerkleTree {
  root: Uint8Array;
  /** log2(paddedLeafCount); 0 for zero or one leaf. */
  depth: number;
  leafCount: number;
  paddedLeafCount: number;
  levels: Uint8Array[][];
}

export interface InclusionProofInput {
  readonly leafHash: Uint8Array;
  readonly leafIndex: number;
  /** Siblings from the bottom up. */
  readonly siblings: readonly Uint8Array[];
  readonly root: Uint8Array;
  /** When given, the proof must also have exactly the depth of a tree of this many leaves. */
  readonly leafCount?: number | undefined;
}

const NODE_PRE = DOMAIN_NODE.length;

/** leaf = H("VES_LEAF_V1" ‖ UUID(tenant) ‖ UUID(store) ‖ U64(seq) ‖ event_signing_hash ‖ agent_signature64). */
export function leafHash(sha256: Sha256, f: LeafFields): Uint8Array {
  const tenantId = assertUuid(f.tenantId, "tenant_id");
  const storeId = assertUuid(f.storeId, "store_id");
  const seq = assertU64(f.sequenceNumber, "sequence_number");
  const signingHash = assertBytes(f.eventSigningHash, 32, "event_signing_hash");
  const signature = assertBytes(f.agentSignature, 64, "agent_signature");
  const d = DOMAIN_LEAF.length;
  const pre = new Uint8Array(d + 32 + 8 + 32 + 64);
  pre.set(DOMAIN_LEAF, 0);
  writeUuid(pre, d, tenantId);
  writeUuid(pre, d + 16, storeId);
  new DataView(pre.buffer).setBigUint64(d + 32, seq, false);
  pre.set(signingHash, d + 40);
  pre.set(signature, d + 72);
  return sha256(pre);
}

/**
 * Leaf hashes of one stream's events, for hashing many at once: the stream is checked and encoded once and
 * one scratch preimage is reused (the Sha256 contract: it does not retain its input).
 */
export function streamLeafHasher(
  sha256: Sha256,
  tenantIdIn: string,
  storeIdIn: string,
): (sequenceNumber: bigint, eventSigningHash: Uint8Array, agentSignature: Uint8Array) => Uint8Array {
  const tenantId = assertUuid(tenantIdIn, "tenant_id");
  const storeId = assertUuid(storeIdIn, "store_id");
  const d = DOMAIN_LEAF.length;
  const pre = new Uint8Array(d + 32 + 8 + 32 + 64);
  const view = new DataView(pre.buffer);
  pre.set(DOMAIN_LEAF, 0);
  writeUuid(pre, d, tenantId);
  writeUuid(pre, d + 16, storeId);
  return (sequenceNumber, eventSigningHash, agentSignature) => {
    view.setBigUint64(d + 32, assertU64(sequenceNumber, "sequence_number"), false);
    pre.set(assertBytes(eventSigningHash, 32, "event_signing_hash"), d + 40);
    pre.set(assertBytes(agentSignature, 64, "agent_signature"), d + 72);
    return sha256(pre);
  };
}

/** A scratch preimage "VES_NODE_V1" ‖ left ‖ right, reused across one tree (the Sha256 contract: no retention). */
function nodeScratch(): Uint8Array {
  const pre = new Uint8Array(NODE_PRE + 64);
  pre.set(DOMAIN_NODE, 0);
  return pre;
}

function hashPair(sha256: Sha256, scratch: Uint8Array, left: Uint8Array, right: Uint8Array): Uint8Array {
  scratch.set(left, NODE_PRE);
  scratch.set(right, NODE_PRE + 32);
  return sha256(scratch);
}

/** node = H("VES_NODE_V1" ‖ left ‖ right). */
export function nodeHash(sha256: Sha256, left: Uint8Array, right: Uint8Array): Uint8Array {
  assertBytes(left, 32, "left");
  assertBytes(right, 32, "right");
  return hashPair(sha256, nodeScratch(), left, right);
}

function checkLeaves(leaves: readonly Uint8Array[]): void {
  if (!Array.isArray(leaves)) throw new TypeError(`"leaves" expected an array, got ${typeof leaves}`);
  for (let i = 0; i < leaves.length; i++) assertBytes(leaves[i], 32, `leaves[${i}]`);
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Hashes one level into the next. All-padding subtrees are identical, so the level's shared padding node
 * (`pad`, or undefined once no pure-padding node is left) is paired with itself at most once per level.
 */
function nextLevel(
  sha256: Sha256,
  scratch: Uint8Array,
  level: readonly Uint8Array[],
  pad: Uint8Array | undefined,
): { next: Uint8Array[]; pad: Uint8Array | undefined } {
  const half = level.length / 2;
  const next = new Array<Uint8Array>(half);
  let nextPad: Uint8Array | undefined;
  for (let i = 0; i < half; i++) {
    const left = level[2 * i] as Uint8Array;
    const right = level[2 * i + 1] as Uint8Array;
    if (pad !== undefined && left === pad && right === pad) {
      nextPad ??= hashPair(sha256, scratch, pad, pad);
      next[i] = nextPad;
    } else {
      next[i] = hashPair(sha256, scratch, left, right);
    }
  }
  return { next, pad: nextPad };
}

/**
 * Builds the tree over `leaves` (32-byte leaf hashes in sequence order): pads to the next power of two with
 * PAD_LEAF, never duplicates a leaf and never promotes a node. 0 leaves → root of 32 zero bytes, depth 0;
 * 1 leaf → root = that leaf, depth 0.
 */
export function buildMerkleTree(sha256: Sha256, leaves: readonly Uint8Array[]): MerkleTree {
  checkLeaves(leaves);
  const n = leaves.length;
  if (n === 0) return { root: new Uint8Array(32), depth: 0, leafCount: 0, paddedLeafCount: 0, levels: [] };
  const padded = nextPow2(n);
  const level0 = new Array<Uint8Array>(padded);
  for (let i = 0; i < n; i++) level0[i] = leaves[i] as Uint8Array;
  level0.fill(PAD_LEAF, n);
  const levels: Uint8Array[][] = [level0];
  const scratch = nodeScratch();
  let level = level0;
  let pad: Uint8Array | undefined = padded > n ? PAD_LEAF : undefined;
  while (level.length > 1) {
    const step = nextLevel(sha256, scratch, level, pad);
    level = step.next;
    pad = step.pad;
    levels.push(level);
  }
  return {
    root: level[0] as Uint8Array,
    depth: levels.length - 1,
    leafCount: n,
    paddedLeafCount: padded,
    levels,
  };
}

/** The root of `buildMerkleTree(sha256, leaves)`. */
export function merkleRoot(sha256: Sha256, leaves: readonly Uint8Array[]): Uint8Array {
  return buildMerkleTree(sha256, leaves).root;
}

/** Siblings of leaf `leafIndex` from the bottom up (empty for a one-leaf tree). */
export function inclusionProof(tree: MerkleTree, leafIndex: number): Uint8Array[] {
  if (typeof leafIndex !== "number" || !Number.isInteger(leafIndex)) {
    throw new TypeError(`"leaf_index" expected an integer, got ${String(leafIndex)}`);
  }
  if (leafIndex < 0 || leafIndex >= tree.leafCount) {
    const expected = tree.leafCount === 0 ? "no index (the tree is empty)" : `0..${tree.leafCount - 1}`;
    throw new RangeError(`"leaf_index" expected ${expected}, got ${leafIndex}`);
  }
  const siblings = new Array<Uint8Array>(tree.depth);
  let index = leafIndex;
  for (let d = 0; d < tree.depth; d++) {
    siblings[d] = (tree.levels[d] as Uint8Array[])[index ^ 1] as Uint8Array;
    index >>>= 1;
  }
  return siblings;
}

/**
 * Checks an inclusion proof. Bit d of leafIndex = 0 means the running node is the left child at level d.
 * Returns false for a wrong proof, including an index that does not fit the proof's depth (so every index
 * bit is bound) and, when leafCount is given, an index past the last leaf or a depth other than
 * log2(nextPow2(leafCount)). Throws only for malformed arguments.
 */
export function verifyInclusionProof(sha256: Sha256, p: InclusionProofInput): boolean {
  const leaf = assertBytes(p.leafHash, 32, "leaf_hash");
  const root = assertBytes(p.root, 32, "root");
  const { siblings, leafIndex, leafCount } = p;
  if (!Array.isArray(siblings)) throw new TypeError(`"siblings" expected an array, got ${typeof siblings}`);
  if (siblings.length > MAX_PROOF_SIBLINGS) {
    throw new RangeError(`"siblings" expected at most ${MAX_PROOF_SIBLINGS} hashes, got ${siblings.length}`);
  }
  for (let i = 0; i < siblings.length; i++) assertBytes(siblings[i], 32, `siblings[${i}]`);
  if (typeof leafIndex !== "number" || !Number.isSafeInteger(leafIndex)) {
    throw new TypeError(`"leaf_index" expected a non-negative integer, got ${String(leafIndex)}`);
  }
  if (leafIndex < 0) throw new RangeError(`"leaf_index" expected a non-negative integer, got ${leafIndex}`);
  if (leafCount !== undefined) {
    if (typeof leafCount !== "number" || !Number.isSafeInteger(leafCount)) {
      throw new TypeError(`"leaf_count" expected a non-negative integer, got ${String(leafCount)}`);
    }
    if (leafCount < 0) throw new RangeError(`"leaf_count" expected a non-negative integer, got ${leafCount}`);
    if (leafIndex >= leafCount) return false;
    if (siblings.length !== Math.log2(nextPow2(leafCount))) return false;
  }
  if (leafIndex >= 2 ** siblings.length) return false;
  const scratch = nodeScratch();
  let current = leaf;
  let index = leafIndex;
  for (const sibling of siblings) {
    current =
      index % 2 === 0
        ? hashPair(sha256, scratch, current, sibling)
        : hashPair(sha256, scratch, sibling, current);
    index = Math.floor(index / 2);
  }
  return equalBytes(current, root);
}
