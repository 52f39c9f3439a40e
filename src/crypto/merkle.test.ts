// Tests for the padded VES Merkle tree, its proofs and leaf hash (docs/protocol.md §2.5).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, concatBytes, u64be, uuidToBytes } from "./bytes.js";
import { DOMAIN_LEAF, DOMAIN_NODE } from "./domains.js";
import {
  buildMerkleTree,
  inclusionProof,
  leafHash,
  MAX_PROOF_SIBLINGS,
  merkleRoot,
  nodeHash,
  PAD_LEAF,
  streamLeafHasher,
  verifyInclusionProof,
} from "./merkle.js";
import { nativeSha256 } from "./native.js";
import { nobleSha256 } from "./sha256.js";

const sha256 = nativeSha256;
const leafArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const fill = (b: number, n = 32): Uint8Array => new Uint8Array(n).fill(b);

/** Straightforward recursive reference: pad with PAD_LEAF, split in halves. */
function referenceRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return new Uint8Array(32);
  let size = 1;
  while (size < leaves.length) size *= 2;
  const padded = [...leaves, ...Array.from({ length: size - leaves.length }, () => PAD_LEAF)];
  const rec = (xs: Uint8Array[]): Uint8Array =>
    xs.length === 1
      ? (xs[0] as Uint8Array)
      : sha256(concatBytes(DOMAIN_NODE, rec(xs.slice(0, xs.length / 2)), rec(xs.slice(xs.length / 2))));
  return rec(padded);
}

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}

describe("leafHash and nodeHash", () => {
  it("hash the documented 147-byte and 75-byte preimages", () => {
    const f = {
      tenantId: "00000000-0000-0000-0000-000000000001",
      storeId: "00000000-0000-0000-0000-000000000002",
      sequenceNumber: 42n,
      eventSigningHash: fill(1),
      agentSignature: fill(2, 64),
    };
    const pre = concatBytes(
      DOMAIN_LEAF,
      uuidToBytes(f.tenantId),
      uuidToBytes(f.storeId),
      u64be(42n),
      f.eventSigningHash,
      f.agentSignature,
    );
    expect(pre).toHaveLength(147);
    expect(leafHash(sha256, f)).toEqual(sha256(pre));
    expect(nodeHash(sha256, fill(1), fill(2))).toEqual(sha256(concatBytes(DOMAIN_NODE, fill(1), fill(2))));
  });

  it("name the malformed field", () => {
    const f = {
      tenantId: "00000000-0000-0000-0000-000000000001",
      storeId: "00000000-0000-0000-0000-000000000002",
      sequenceNumber: 1n,
      eventSigningHash: fill(1),
      agentSignature: fill(2, 64),
    };
    expect(() => leafHash(sha256, { ...f, agentSignature: fill(2, 63) })).toThrow(
      new RangeError('"agent_signature" expected 64 bytes, got 63'),
    );
    expect(() => leafHash(sha256, { ...f, sequenceNumber: -1n })).toThrow(RangeError);
    expect(() => leafHash(sha256, { ...f, storeId: "nope" })).toThrow(
      new RangeError('"store_id" expected a UUID (8-4-4-4-12 hex), got "nope"'),
    );
    expect(() => nodeHash(sha256, fill(1, 31), fill(2))).toThrow(
      new RangeError('"left" expected 32 bytes, got 31'),
    );
  });
});

describe("buildMerkleTree", () => {
  it("gives 32 zero bytes for no leaves and the leaf itself for one", () => {
    const empty = buildMerkleTree(sha256, []);
    expect(empty).toEqual({
      root: new Uint8Array(32),
      depth: 0,
      leafCount: 0,
      paddedLeafCount: 0,
      levels: [],
    });
    expect(() => inclusionProof(empty, 0)).toThrow(
      new RangeError('"leaf_index" expected no index (the tree is empty), got 0'),
    );

    const one = buildMerkleTree(sha256, [fill(7)]);
    expect(one.root).toEqual(fill(7));
    expect(one.depth).toBe(0);
    expect(one.paddedLeafCount).toBe(1);
    expect(one.levels).toEqual([[fill(7)]]);
    expect(inclusionProof(one, 0)).toEqual([]);
    expect(
      verifyInclusionProof(sha256, {
        leafHash: fill(7),
        leafIndex: 0,
        siblings: [],
        root: one.root,
        leafCount: 1,
      }),
    ).toBe(true);
  });

  it("pads with PAD_LEAF and never duplicates the last leaf", () => {
    const [a, b, c] = [fill(1), fill(2), fill(3)];
    const tree = buildMerkleTree(sha256, [a, b, c]);
    expect(tree.root).toEqual(nodeHash(sha256, nodeHash(sha256, a, b), nodeHash(sha256, c, PAD_LEAF)));
    expect(tree.root).not.toEqual(nodeHash(sha256, nodeHash(sha256, a, b), nodeHash(sha256, c, c)));
    expect(tree.levels.map((l) => l.length)).toEqual([4, 2, 1]);
    expect(tree.levels[0]?.[3]).toEqual(PAD_LEAF);
    expect(tree.levels.at(-1)).toEqual([tree.root]);
    expect(tree.paddedLeafCount).toBe(4);
    expect(tree.depth).toBe(2);
  });

  it("shares the hashing of all-padding subtrees without changing the root", () => {
    // 5 leaves → 8 padded: a pure-padding pair at level 0 and none above it.
    for (const n of [2, 5, 9, 17, 33, 129, 257, 513]) {
      const leaves = Array.from({ length: n }, (_, i) => fill(i % 251));
      expect(bytesToHex(merkleRoot(sha256, leaves)), `${n} leaves`).toBe(bytesToHex(referenceRoot(leaves)));
    }
  });

  it("refuses leaves that are not 32 bytes", () => {
    expect(() => buildMerkleTree(sha256, [fill(1), fill(2, 31)])).toThrow(
      new RangeError('"leaves[1]" expected 32 bytes, got 31'),
    );
  });

  it("matches a reference implementation, with either SHA-256", () => {
    fc.assert(
      fc.property(fc.array(leafArb, { maxLength: 70 }), (leaves) => {
        const root = referenceRoot(leaves);
        expect(buildMerkleTree(sha256, leaves).root).toEqual(root);
        expect(merkleRoot(nobleSha256, leaves)).toEqual(root);
      }),
      { numRuns: 60 },
    );
  });
});

describe("inclusion proofs", () => {
  it("verify for every leaf of random trees of 1..300 leaves", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), (n, seed) => {
        const leaves = Array.from({ length: n }, (_, i) => sha256(u64be(BigInt(seed) * 1000n + BigInt(i))));
        const tree = buildMerkleTree(sha256, leaves);
        expect(tree.depth).toBe(Math.ceil(Math.log2(n)));
        for (let i = 0; i < n; i++) {
          const siblings = inclusionProof(tree, i);
          expect(siblings).toHaveLength(tree.depth);
          const args = { leafHash: leaves[i] as Uint8Array, leafIndex: i, siblings, root: tree.root };
          expect(verifyInclusionProof(sha256, args)).toBe(true);
          expect(verifyInclusionProof(sha256, { ...args, leafCount: n })).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("fail when any single bit of the leaf, a sibling, the index or the root flips", () => {
    fc.assert(
      fc.property(
        fc.array(leafArb, { minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 255 }),
        fc.nat({ max: 52 }),
        (leaves, pickLeaf, pickSibling, bit, indexBit) => {
          fc.pre(new Set(leaves.map(bytesToHex)).size === leaves.length);
          const tree = buildMerkleTree(sha256, leaves);
          const leafIndex = pickLeaf % leaves.length;
          const siblings = inclusionProof(tree, leafIndex);
          const good = { leafHash: leaves[leafIndex] as Uint8Array, leafIndex, siblings, root: tree.root };
          expect(verifyInclusionProof(sha256, good)).toBe(true);

          expect(verifyInclusionProof(sha256, { ...good, leafHash: flipBit(good.leafHash, bit) })).toBe(
            false,
          );
          expect(verifyInclusionProof(sha256, { ...good, root: flipBit(tree.root, bit) })).toBe(false);
          if (siblings.length > 0) {
            const s = pickSibling % siblings.length;
            const bad = siblings.map((x, i) => (i === s ? flipBit(x, bit) : x));
            expect(verifyInclusionProof(sha256, { ...good, siblings: bad })).toBe(false);
          }
          // Low bits move the path; high bits push the index past the proof's depth.
          const flippedIndex = Number(BigInt(leafIndex) ^ (1n << BigInt(indexBit)));
          expect(verifyInclusionProof(sha256, { ...good, leafIndex: flippedIndex })).toBe(false);
          expect(
            verifyInclusionProof(sha256, { ...good, leafIndex: flippedIndex, leafCount: leaves.length }),
          ).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("bind the proof to leafCount when it is given", () => {
    const leaves = Array.from({ length: 5 }, (_, i) => fill(i));
    const tree = buildMerkleTree(sha256, leaves);
    const proof = { leafHash: fill(4), leafIndex: 4, siblings: inclusionProof(tree, 4), root: tree.root };
    expect(verifyInclusionProof(sha256, { ...proof, leafCount: 5 })).toBe(true);
    expect(verifyInclusionProof(sha256, { ...proof, leafCount: 4 })).toBe(false);
    expect(verifyInclusionProof(sha256, { ...proof, leafCount: 9 })).toBe(false);
    expect(verifyInclusionProof(sha256, { ...proof, leafCount: 0 })).toBe(false);
    // The padding slot after the last leaf opens only without leafCount.
    const padSiblings = tree.levels.slice(0, tree.depth).map((level, d) => level[(5 >> d) ^ 1] as Uint8Array);
    const padProof = { leafHash: PAD_LEAF, leafIndex: 5, siblings: padSiblings, root: tree.root };
    expect(verifyInclusionProof(sha256, padProof)).toBe(true);
    expect(verifyInclusionProof(sha256, { ...padProof, leafCount: 5 })).toBe(false);
  });

  it("throw only for malformed arguments", () => {
    const ok = { leafHash: fill(1), leafIndex: 0, siblings: [fill(2)], root: fill(3) };
    expect(verifyInclusionProof(sha256, ok)).toBe(false);
    expect(() => inclusionProof(buildMerkleTree(sha256, [fill(1)]), 1)).toThrow(
      new RangeError('"leaf_index" expected 0..0, got 1'),
    );
    expect(() => inclusionProof(buildMerkleTree(sha256, [fill(1)]), 0.5)).toThrow(TypeError);
    expect(() => verifyInclusionProof(sha256, { ...ok, leafIndex: -1 })).toThrow(
      new RangeError('"leaf_index" expected a non-negative integer, got -1'),
    );
    expect(() => verifyInclusionProof(sha256, { ...ok, leafIndex: 0.5 })).toThrow(TypeError);
    expect(() => verifyInclusionProof(sha256, { ...ok, leafIndex: Number.NaN })).toThrow(TypeError);
    expect(() => verifyInclusionProof(sha256, { ...ok, root: fill(3, 31) })).toThrow(
      new RangeError('"root" expected 32 bytes, got 31'),
    );
    expect(() => verifyInclusionProof(sha256, { ...ok, siblings: [fill(2), fill(2, 33)] })).toThrow(
      new RangeError('"siblings[1]" expected 32 bytes, got 33'),
    );
    expect(() => verifyInclusionProof(sha256, { ...ok, leafCount: -1 })).toThrow(RangeError);
    const many = Array.from({ length: MAX_PROOF_SIBLINGS + 1 }, () => fill(2));
    expect(() => verifyInclusionProof(sha256, { ...ok, siblings: many })).toThrow(
      new RangeError('"siblings" expected at most 64 hashes, got 65'),
    );
    expect(verifyInclusionProof(sha256, { ...ok, siblings: many.slice(1) })).toBe(false);
  });
});

describe("streamLeafHasher", () => {
  it("gives the same hashes as leafHash, leaf after leaf, with one reused preimage", () => {
    const t = "00000000-0000-0000-0000-000000000001";
    const s = "00000000-0000-0000-0000-000000000002";
    const hash = streamLeafHasher(nobleSha256, t, s);
    for (let i = 1; i <= 5; i++) {
      const f = {
        sequenceNumber: BigInt(i),
        eventSigningHash: new Uint8Array(32).fill(i),
        agentSignature: new Uint8Array(64).fill(2 * i),
      };
      expect(hash(f.sequenceNumber, f.eventSigningHash, f.agentSignature)).toEqual(
        leafHash(nobleSha256, { tenantId: t, storeId: s, ...f }),
      );
    }
  });
});
