// Building a commitment: §11.3 leaf and state-root constructions, padding, chaining and refusal of gaps.
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes, ZERO32 } from "../crypto/bytes.js";
import { checkpointHash } from "../crypto/checkpoint.js";
import { buildMerkleTree, leafHash, nodeHash, PAD_LEAF } from "../crypto/merkle.js";
import { nativeSha256 as sha256 } from "../crypto/native.js";
import { nextStateRoot, streamId } from "../crypto/stateRoot.js";
import { buildCommitment } from "./buildCommitment.js";
import { DomainError } from "./errors.js";

const stream = {
  tenantId: "00000000-0000-0000-0000-000000000001",
  storeId: "00000000-0000-0000-0000-000000000002",
};
// §11.3 "full signing test" event: its signing hash and SK1 signature, and its leaf at sequence 1.
const SIGNING_HASH = hexToBytes("4dd87d2bff38574cdc3e61e9aea0cbc4109eaf2962f3894f3d82431082343ff6");
const SIGNATURE = hexToBytes(
  "a0478a20df91042a3a3cf4388553875e6ef488aaae9726cffb9968e352cbd1214fd6b13d77b19fd29b4584743984aa96a90183a41f89e09ddfbfbcc837f9b00a",
);
const LEAF_AT_1 = "c052fa751455e5b36e85c2cae15b143bcce91f9db9c2c30aaf7397fddef8d53b";

const leaf = (n: number) => ({
  sequenceNumber: BigInt(n),
  eventSigningHash: sha256(Uint8Array.of(n)),
  agentSignature: new Uint8Array(64).fill(n),
});

describe("buildCommitment", () => {
  it("seals a stream's first event as a one-leaf tree whose root is the §11.3 leaf", () => {
    const c = buildCommitment(sha256, stream, undefined, [
      { sequenceNumber: 1n, eventSigningHash: SIGNING_HASH, agentSignature: SIGNATURE },
    ]);
    expect(bytesToHex(c.merkleRoot)).toBe(LEAF_AT_1);
    expect([c.sequenceStart, c.sequenceEnd, c.leafCount, c.paddedLeafCount, c.treeDepth]).toEqual([
      1n,
      1n,
      1,
      1,
      0,
    ]);
    expect(c.prevStateRoot).toEqual(ZERO32);
    const sid = streamId(sha256, stream.tenantId, stream.storeId);
    expect(c.newStateRoot).toEqual(nextStateRoot(sha256, { streamId: sid, ...c }));
    expect(c.checkpointHash).toEqual(checkpointHash(sha256, c));
  });

  it("pads with PAD_LEAF and chains the previous state root", () => {
    const tip = { sequenceEnd: 4n, newStateRoot: sha256(Uint8Array.of(9)) };
    const leaves = [leaf(5), leaf(6), leaf(7)];
    const c = buildCommitment(sha256, stream, tip, leaves);
    const [a, b, d] = leaves.map((l) => leafHash(sha256, { ...stream, ...l })) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    expect(c.merkleRoot).toEqual(nodeHash(sha256, nodeHash(sha256, a, b), nodeHash(sha256, d, PAD_LEAF)));
    expect(c.merkleRoot).toEqual(buildMerkleTree(sha256, [a, b, d]).root);
    expect([c.sequenceStart, c.sequenceEnd, c.leafCount, c.paddedLeafCount, c.treeDepth]).toEqual([
      5n,
      7n,
      3,
      4,
      2,
    ]);
    expect(c.prevStateRoot).toEqual(tip.newStateRoot);
    const sid = streamId(sha256, stream.tenantId, stream.storeId);
    expect(c.newStateRoot).toEqual(
      nextStateRoot(sha256, { streamId: sid, ...c, prevStateRoot: tip.newStateRoot }),
    );
  });

  it("refuses a gap, a wrong start and an empty range as data loss", () => {
    const tip = { sequenceEnd: 4n, newStateRoot: ZERO32 };
    for (const leaves of [[leaf(5), leaf(7)], [leaf(6)], []]) {
      const err = (() => {
        try {
          buildCommitment(sha256, stream, tip, leaves);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).reason).toBe("data_loss");
    }
  });
});
