// How a commitment's Merkle tree is stored: every node, level by level from the padded leaves (level 0) up to
// the root, 32 bytes each, 2 × padded - 1 nodes in all. Level d starts at node 2P - (2P >> d) for P padded
// leaves, so a proof's siblings are fixed slices of it (pgCommitmentStore).
import type { MerkleTree } from "../../crypto/merkle.js";

/** Index of the first node of level `depth` in the flat array, for `padded` leaves. */
export function levelOffset(padded: number, depth: number): number {
  return 2 * padded - Math.floor((2 * padded) / 2 ** depth);
}

export function flattenTree(tree: MerkleTree): Uint8Array {
  const out = new Uint8Array(32 * Math.max(0, 2 * tree.paddedLeafCount - 1));
  let offset = 0;
  for (const level of tree.levels) {
    for (const node of level) {
      out.set(node, offset);
      offset += 32;
    }
  }
  if (offset !== out.length)
    throw new Error(`tree of ${tree.paddedLeafCount} leaves has ${offset / 32} nodes`);
  return out;
}
