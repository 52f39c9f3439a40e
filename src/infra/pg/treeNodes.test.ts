// The flat tree layout gives exactly the siblings merkle.ts's inclusionProof gives.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildMerkleTree, inclusionProof } from "../../crypto/merkle.js";
import { nativeSha256 } from "../../crypto/native.js";
import { flattenTree, levelOffset, siblingsFromNodes } from "./treeNodes.js";

describe("tree nodes", () => {
  it("lay levels out one after another", () => {
    expect([0, 1, 2, 3].map((d) => levelOffset(8, d))).toEqual([0, 8, 12, 14]);
    expect(levelOffset(1, 0)).toBe(0);
  });

  it("give the siblings of every leaf", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), (n) => {
        const leaves = Array.from({ length: n }, (_, i) => nativeSha256(Uint8Array.of(i, n)));
        const tree = buildMerkleTree(nativeSha256, leaves);
        const nodes = flattenTree(tree);
        expect(nodes.length).toBe(32 * (2 * tree.paddedLeafCount - 1));
        expect(nodes.subarray(nodes.length - 32)).toEqual(tree.root);
        for (let i = 0; i < n; i++) {
          expect(siblingsFromNodes(nodes, tree.paddedLeafCount, tree.depth, i)).toEqual(
            inclusionProof(tree, i),
          );
        }
      }),
      { numRuns: 30 },
    );
  });
});
