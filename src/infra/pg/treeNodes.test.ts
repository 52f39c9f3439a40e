// The flat tree layout: level d of a tree of P padded leaves starts at node 2P - (2P >> d), the formula
// pgCommitmentStore's SQL slices siblings with.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildMerkleTree } from "../../crypto/merkle.js";
import { nativeSha256 } from "../../crypto/native.js";
import { flattenTree, levelOffset } from "./treeNodes.js";

describe("tree nodes", () => {
  it("lay levels out one after another", () => {
    expect([0, 1, 2, 3].map((d) => levelOffset(8, d))).toEqual([0, 8, 12, 14]);
    expect(levelOffset(1, 0)).toBe(0);
  });

  it("hold every node of every level at its offset, the root last", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), (n) => {
        const leaves = Array.from({ length: n }, (_, i) => nativeSha256(Uint8Array.of(i, n)));
        const tree = buildMerkleTree(nativeSha256, leaves);
        const nodes = flattenTree(tree);
        expect(nodes.length).toBe(32 * (2 * tree.paddedLeafCount - 1));
        for (const [d, level] of tree.levels.entries()) {
          for (const [i, node] of level.entries()) {
            const at = 32 * (levelOffset(tree.paddedLeafCount, d) + i);
            expect(nodes.subarray(at, at + 32)).toEqual(node);
          }
        }
        expect(nodes.subarray(nodes.length - 32)).toEqual(tree.root);
      }),
      { numRuns: 30 },
    );
  });
});
