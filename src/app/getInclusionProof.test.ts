// A proof is checked before it leaves the server: a stored tree that gives a wrong path is data loss.
import { describe, expect, it } from "vitest";
import { buildMerkleTree, inclusionProof, leafHash } from "../crypto/merkle.js";
import { nativeSha256 as sha256 } from "../crypto/native.js";
import type { Commitment } from "../domain/commitment.js";
import { DomainError } from "../domain/errors.js";
import { toInclusionProof } from "./getInclusionProof.js";

const stream = {
  tenantId: "7f3c1a52-0d4e-4b8a-9f11-2c6d5e7a8b90",
  storeId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
};
const events = Array.from({ length: 3 }, (_, i) => ({
  eventId: "11111111-1111-4111-8111-111111111111",
  sequenceNumber: BigInt(11 + i),
  eventSigningHash: sha256(Uint8Array.of(i)),
  agentSignature: new Uint8Array(64).fill(i),
}));
const tree = buildMerkleTree(
  sha256,
  events.map((e) => leafHash(sha256, { ...stream, ...e })),
);
const commitment = {
  commitmentId: "22222222-2222-4222-8222-222222222222",
  sequenceStart: 11n,
  leafCount: 3,
  merkleRoot: tree.root,
} as Commitment;

describe("toInclusionProof", () => {
  it("returns a proof of the event in its commitment", () => {
    const p = toInclusionProof(sha256, stream, commitment, {
      ...(events[2] as (typeof events)[0]),
      siblings: inclusionProof(tree, 2),
    });
    expect([p.leafIndex, p.sequenceStart, p.leafCount, p.siblings.length]).toEqual([2, 11n, 3, 2]);
  });

  it("refuses, as data loss, siblings that do not lead to the commitment's root", () => {
    const siblings = inclusionProof(tree, 1).map((s, i) => (i === 1 ? sha256(s) : s));
    let err: unknown;
    try {
      toInclusionProof(sha256, stream, commitment, { ...(events[1] as (typeof events)[0]), siblings });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).reason).toBe("data_loss");
  });
});
