// Property tests of the proof checks: every proof of a random chain of commitments verifies (with native and
// pure-JS crypto alike), and flipping any byte of a leaf input, sibling, index, root, checkpoint field or
// state-chain link makes it fail with the right reason.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ZERO32 } from "../crypto/bytes.js";
import { nobleEd25519 } from "../crypto/ed25519.js";
import { inclusionProof, leafHash, MAX_PROOF_SIBLINGS } from "../crypto/merkle.js";
import { nativeSha256, sodiumEd25519 } from "../crypto/native.js";
import { receiptHash } from "../crypto/receiptHash.js";
import { nobleSha256 } from "../crypto/sha256.js";
import { buildCommitment, type UnsignedCommitment } from "./buildCommitment.js";
import type { InclusionProof, LeafInput, StateLink } from "./commitment.js";
import {
  checkCheckpoint,
  checkConsistencyProof,
  checkInclusionProof,
  checkReceipt,
  checkSealedReceipt,
} from "./proofChecks.js";

const native = { sha256: nativeSha256, ed25519: sodiumEd25519 };
const portable = { sha256: nobleSha256, ed25519: nobleEd25519 };
const stream = {
  tenantId: "7f3c1a52-0d4e-4b8a-9f11-2c6d5e7a8b90",
  storeId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
};
const seed = new Uint8Array(32).fill(7);
const sign = sodiumEd25519.createSigner(seed);
const publicKey = sodiumEd25519.getPublicKey(seed);
const otherKey = sodiumEd25519.getPublicKey(new Uint8Array(32).fill(8));

function flip(b: Uint8Array, byte: number, bit = 0): Uint8Array {
  const out = b.slice();
  const i = byte % out.length;
  out[i] = (out[i] as number) ^ (1 << bit);
  return out;
}

interface Sealed extends UnsignedCommitment {
  signature: Uint8Array;
  leaves: LeafInput[];
}

/** A chain of commitments with the given leaf counts, built and signed as the worker does. */
function chain(sizes: readonly number[]): Sealed[] {
  const out: Sealed[] = [];
  let next = 1;
  for (const n of sizes) {
    const leaves = Array.from({ length: n }, (_, i) => ({
      sequenceNumber: BigInt(next + i),
      eventSigningHash: nativeSha256(Uint8Array.of(1, next + i, (next + i) >> 8)),
      agentSignature: new Uint8Array(64).fill((next + i) % 251),
    }));
    const prev = out.at(-1);
    const c = buildCommitment(nativeSha256, stream, prev, leaves);
    out.push({ ...c, signature: sign(c.checkpointHash), leaves });
    next += n;
  }
  return out;
}

function proofOf(c: Sealed, i: number): InclusionProof {
  const l = c.leaves[i] as LeafInput;
  return {
    ...stream,
    eventId: "11111111-1111-4111-8111-111111111111",
    ...l,
    leafHash: leafHash(nativeSha256, { ...stream, ...l }),
    commitmentId: "22222222-2222-4222-8222-222222222222",
    sequenceStart: c.sequenceStart,
    leafCount: c.leafCount,
    leafIndex: i,
    siblings: inclusionProof(c.tree, i),
    merkleRoot: c.merkleRoot,
  };
}

const sizes = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 });

describe("checkInclusionProof", () => {
  it("accepts the proof of every event of every commitment, with either SHA-256", () => {
    fc.assert(
      fc.property(sizes, (s) => {
        for (const c of chain(s)) {
          for (let i = 0; i < c.leafCount; i++) {
            const p = proofOf(c, i);
            expect(checkInclusionProof(nativeSha256, p, c.merkleRoot)).toEqual({ valid: true });
            expect(checkInclusionProof(nobleSha256, p)).toEqual({ valid: true });
          }
        }
      }),
      { numRuns: 20 },
    );
  });

  it("rejects a flipped byte of the leaf inputs, a sibling, the index or the root", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }),
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 7 }),
        fc.nat({ max: 31 }),
        (n, pick, byte, bit, indexBit) => {
          const [c] = chain([n]) as [Sealed];
          const p = proofOf(c, pick % n);
          const reason = (q: InclusionProof) => {
            const v = checkInclusionProof(nativeSha256, q);
            return v.valid ? "valid" : v.reason;
          };
          expect(reason(p)).toBe("valid");
          expect(reason({ ...p, eventSigningHash: flip(p.eventSigningHash, byte, bit) })).toBe(
            "leaf_hash_mismatch",
          );
          expect(reason({ ...p, agentSignature: flip(p.agentSignature, byte, bit) })).toBe(
            "leaf_hash_mismatch",
          );
          expect(reason({ ...p, leafHash: flip(p.leafHash, byte, bit) })).toBe("leaf_hash_mismatch");
          expect(reason({ ...p, sequenceNumber: p.sequenceNumber ^ (1n << BigInt(indexBit)) })).not.toBe(
            "valid",
          );
          expect(reason({ ...p, merkleRoot: flip(p.merkleRoot, byte, bit) })).toBe("path_mismatch");
          const s = byte % p.siblings.length;
          const siblings = p.siblings.map((x, i) => (i === s ? flip(x, byte, bit) : x));
          expect(reason({ ...p, siblings })).toBe("path_mismatch");
          // The index alone (with the leaf still at its sequence number) no longer matches the position.
          const leafIndex = p.leafIndex ^ (1 << (indexBit % 9));
          expect(reason({ ...p, leafIndex })).toBe("leaf_index_mismatch");
          // Moving index and sequence start together keeps the position but not the path.
          const moved = { ...p, leafIndex, sequenceStart: p.sequenceNumber - BigInt(leafIndex) };
          if (moved.sequenceStart >= 0n) expect(reason(moved)).not.toBe("valid");
          const v = checkInclusionProof(nativeSha256, p, flip(p.merkleRoot, byte, bit));
          expect(v.valid ? "valid" : v.reason).toBe("root_mismatch");
        },
      ),
      { numRuns: 100 },
    );
  });

  it("throws only for malformed arguments", () => {
    const [c] = chain([5]) as [Sealed];
    const p = proofOf(c, 4);
    expect(() => checkInclusionProof(nativeSha256, { ...p, leafHash: new Uint8Array(31) })).toThrow(
      new RangeError('"leaf_hash" expected 32 bytes, got 31'),
    );
    expect(() => checkInclusionProof(nativeSha256, { ...p, agentSignature: new Uint8Array(63) })).toThrow(
      /"agent_signature"/,
    );
    const many = Array.from({ length: MAX_PROOF_SIBLINGS + 1 }, () => ZERO32);
    expect(() => checkInclusionProof(nativeSha256, { ...p, siblings: many })).toThrow(
      new RangeError('"siblings" expected at most 64 hashes, got 65'),
    );
    expect(() => checkInclusionProof(nativeSha256, { ...p, leafIndex: -1 })).toThrow(/"leaf_index"/);
  });
});

describe("checkCheckpoint", () => {
  it("accepts every checkpoint of a chain and rejects any flipped signed byte", () => {
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat({ max: 7 }), (s, byte, bit) => {
        for (const c of chain(s)) {
          const why = (x: Parameters<typeof checkCheckpoint>[1], key = publicKey, crypto = native) => {
            const v = checkCheckpoint(crypto, x, key);
            return v.valid ? "valid" : v.reason;
          };
          expect(why(c)).toBe("valid");
          expect(why(c, publicKey, portable)).toBe("valid");
          expect(why({ ...c, checkpointHash: new Uint8Array(0) })).toBe("valid");
          expect(why(c, otherKey)).toBe("bad_checkpoint_signature");
          expect(why({ ...c, signature: flip(c.signature, byte, bit) })).toBe("bad_checkpoint_signature");
          expect(why({ ...c, merkleRoot: flip(c.merkleRoot, byte, bit) })).toBe("state_root_mismatch");
          expect(why({ ...c, prevStateRoot: flip(c.prevStateRoot, byte, bit) })).toBe("state_root_mismatch");
          expect(why({ ...c, newStateRoot: flip(c.newStateRoot, byte, bit) })).toBe("state_root_mismatch");
          expect(why({ ...c, checkpointHash: flip(c.checkpointHash, byte, bit) })).toBe(
            "checkpoint_hash_mismatch",
          );
          expect(why({ ...c, sequenceEnd: c.sequenceEnd + 1n })).toBe("checkpoint_range_mismatch");
          expect(why({ ...c, sequenceStart: c.sequenceStart + 1n, sequenceEnd: c.sequenceEnd + 1n })).toBe(
            "state_root_mismatch",
          );
          expect(why({ ...c, storeId: stream.tenantId })).toBe("state_root_mismatch");
        }
      }),
      { numRuns: 15 },
    );
  });
});

const links = (cs: readonly Sealed[]): StateLink[] =>
  cs.map((c) => ({
    sequenceStart: c.sequenceStart,
    sequenceEnd: c.sequenceEnd,
    leafCount: c.leafCount,
    merkleRoot: c.merkleRoot,
  }));

/** The proof from after commitment `from` (-1: the genesis) to commitment `to`. */
function consistency(cs: readonly Sealed[], from: number, to: number) {
  const f = from < 0 ? undefined : cs[from];
  const t = cs[to] as Sealed;
  return {
    ...stream,
    fromSequenceEnd: f?.sequenceEnd ?? 0n,
    fromStateRoot: f?.newStateRoot ?? ZERO32,
    toSequenceEnd: t.sequenceEnd,
    toStateRoot: t.newStateRoot,
    links: links(cs.slice(from + 1, to + 1)),
  };
}

describe("checkConsistencyProof", () => {
  it("accepts the links between any two commitments of a chain, or from the genesis", () => {
    fc.assert(
      fc.property(sizes, (s) => {
        const cs = chain(s);
        for (let from = -1; from < cs.length; from++) {
          for (let to = Math.max(0, from); to < cs.length; to++) {
            expect(checkConsistencyProof(nativeSha256, consistency(cs, from, to))).toEqual({ valid: true });
          }
        }
        expect(checkConsistencyProof(nobleSha256, consistency(cs, -1, cs.length - 1))).toEqual({
          valid: true,
        });
      }),
      { numRuns: 20 },
    );
  });

  it("rejects a dropped, repeated, reordered or altered link and wrong ends", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 3, maxLength: 6 }),
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 7 }),
        (s, pick, byte, bit) => {
          const cs = chain(s);
          const p = consistency(cs, 0, cs.length - 1);
          const why = (q: typeof p) => {
            const v = checkConsistencyProof(nativeSha256, q);
            return v.valid ? "valid" : v.reason;
          };
          expect(why(p)).toBe("valid");
          const i = pick % p.links.length;
          const l = p.links[i] as StateLink;
          const without = p.links.filter((_, j) => j !== i);
          expect(why({ ...p, links: without })).toBe("range_mismatch");
          expect(why({ ...p, links: [...p.links.slice(0, i + 1), l, ...p.links.slice(i + 1)] })).toBe(
            "range_mismatch",
          );
          if (p.links.length > 1) expect(why({ ...p, links: [...p.links].reverse() })).toBe("range_mismatch");
          const altered = (m: Partial<StateLink>) => p.links.map((x, j) => (j === i ? { ...x, ...m } : x));
          expect(why({ ...p, links: altered({ merkleRoot: flip(l.merkleRoot, byte, bit) }) })).toBe(
            "state_root_mismatch",
          );
          expect(why({ ...p, links: altered({ leafCount: l.leafCount + 1 }) })).toBe("range_mismatch");
          expect(why({ ...p, fromStateRoot: flip(p.fromStateRoot, byte, bit) })).toBe("state_root_mismatch");
          expect(why({ ...p, toStateRoot: flip(p.toStateRoot, byte, bit) })).toBe("state_root_mismatch");
          expect(why({ ...p, toSequenceEnd: p.toSequenceEnd + 1n })).toBe("range_mismatch");
          expect(why({ ...p, fromSequenceEnd: 0n })).not.toBe("valid");
        },
      ),
      { numRuns: 50 },
    );
  });

  it("refuses more than 4096 links as malformed", () => {
    const [c] = chain([1]) as [Sealed];
    const p = {
      ...consistency([c], -1, 0),
      links: Array.from({ length: 4097 }, () => links([c])[0] as StateLink),
    };
    expect(() => checkConsistencyProof(nativeSha256, p)).toThrow(
      new RangeError('"links" expected at most 4096 links, got 4097'),
    );
  });
});

describe("checkSealedReceipt", () => {
  it("accepts a receipt with its proof and checkpoint, and names what does not match", () => {
    const cs = chain([3, 5]);
    const c = cs[1] as Sealed;
    const proof = proofOf(c, 2);
    const r = {
      ...stream,
      eventId: proof.eventId,
      sequenceNumber: proof.sequenceNumber,
      eventSigningHash: proof.eventSigningHash,
    };
    const hash = receiptHash(nativeSha256, r);
    const receipt = { ...r, receiptHash: hash, sequencerSignature: sign(hash) };
    const why = (s: Parameters<typeof checkSealedReceipt>[1], expected?: Uint8Array) => {
      const v = checkSealedReceipt(native, s, { receiptKey: publicKey }, expected);
      return v.valid ? "valid" : v.reason;
    };
    expect(checkReceipt(native, receipt, publicKey)).toEqual({ valid: true });
    expect(why({ receipt, proof, checkpoint: c }, proof.eventSigningHash)).toBe("valid");
    expect(why({ receipt, proof, checkpoint: c }, ZERO32)).toBe("signing_hash_mismatch");
    expect(
      why({
        receipt: { ...receipt, sequencerSignature: flip(receipt.sequencerSignature, 1) },
        proof,
        checkpoint: c,
      }),
    ).toBe("bad_signature");
    expect(why({ receipt, proof: proofOf(c, 1), checkpoint: c })).toBe("proof_mismatch");
    expect(why({ receipt, proof, checkpoint: cs[0] as Sealed })).toBe("checkpoint_mismatch");
    expect(why({ receipt, proof, checkpoint: { ...c, merkleRoot: (cs[0] as Sealed).merkleRoot } })).toBe(
      "root_mismatch",
    );
    expect(why({ receipt, proof, checkpoint: { ...c, signature: flip(c.signature, 3) } })).toBe(
      "bad_checkpoint_signature",
    );
  });
});
