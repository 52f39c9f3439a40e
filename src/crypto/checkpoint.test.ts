// Tests for the signed-checkpoint hash (this project's extension; proof.proto Commitment).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, concatBytes, hexToBytes, u32be, u64be, utf8, uuidToBytes, ZERO32 } from "./bytes.js";
import {
  CHECKPOINT_PREIMAGE_BYTES,
  checkpointHash,
  checkpointPreimage,
  DOMAIN_CHECKPOINT,
} from "./checkpoint.js";
import { nobleEd25519 } from "./ed25519.js";
import { nativeSha256, sodiumEd25519 } from "./native.js";
import { nobleSha256 } from "./sha256.js";
import { nextStateRoot, streamId } from "./stateRoot.js";

const T = "00000000-0000-0000-0000-000000000001";
const S = "00000000-0000-0000-0000-000000000002";

// Known answers computed by this implementation and, independently, by Python 3.11 hashlib + cryptography 38
// (Debian), run once:
//   H = lambda b: hashlib.sha256(b).digest(); T, S = uuid.UUID(...).bytes; m = H(b"events-root")
//   r1 = H(b"VES_STATE_ROOT_V1" + H(b"VES_STREAM_V1" + T + S) + bytes(32) + m + struct.pack(">QQI", 1, 2, 2))
//   pre = b"VES_CHECKPOINT_V1" + T + S + struct.pack(">QQI", 1, 2, 2) + m + bytes(32) + r1      # 165 bytes
//   H(pre).hex(); Ed25519PrivateKey.from_private_bytes(SK2 seed).sign(H(pre)).hex()
// r1 and r2 are the §11.3 state-chain vectors, so the checkpoints sign the two links of that chain.
const KAT = {
  merkleRoot: "46d1aff411df7fcf10569b88133efbdf17ec4aec36eb8bc8f2ab459ffbcf8049",
  r1: "89ff6ba95db24785fe4ab2b24c9fc258e9e8e2109017b2959e3ee2e9f9dd251e",
  r2: "4f1cc4a9970e7f766ce08405993783d86cc1d1e34bf76d2e8676dc0c13acda6c",
  preimage1:
    "5645535f434845434b504f494e545f5631000000000000000000000000000000010000000000000000000000000000000200" +
    "0000000000000100000000000000020000000246d1aff411df7fcf10569b88133efbdf17ec4aec36eb8bc8f2ab459ffbcf80" +
    "49000000000000000000000000000000000000000000000000000000000000000089ff6ba95db24785fe4ab2b24c9fc258e9" +
    "e8e2109017b2959e3ee2e9f9dd251e",
  hash1: "f8928c3ed7aab756bc28a402dd6a377fcae6d553493f8194ca602140f1499cda",
  hash2: "65be9374ba4893376a6199d4a4530091879a7dae675343431019e71d8a11532d",
  // RFC 8032 test 2 seed (SK2 of §11.3, the receipt key of the receipt vector).
  sk2Seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
  sig1:
    "fefca7f98efd21afb5e16eac1ebd67d89b55698afeaef5236dc2e4f237d1eddff07e75cd2becd8519b89f5cb171ae949415b" +
    "50121ad6d758d60025e9e68b390b",
};

const first = {
  tenantId: T,
  storeId: S,
  sequenceStart: 1n,
  sequenceEnd: 2n,
  leafCount: 2,
  merkleRoot: hexToBytes(KAT.merkleRoot),
  prevStateRoot: ZERO32,
  newStateRoot: hexToBytes(KAT.r1),
};

describe("checkpointHash", () => {
  it("matches the independently computed known answers, with either SHA-256", () => {
    expect(bytesToHex(DOMAIN_CHECKPOINT)).toBe(bytesToHex(utf8("VES_CHECKPOINT_V1")));
    expect(CHECKPOINT_PREIMAGE_BYTES).toBe(165);
    expect(bytesToHex(checkpointPreimage(first))).toBe(KAT.preimage1);
    for (const sha256 of [nativeSha256, nobleSha256]) {
      expect(bytesToHex(checkpointHash(sha256, first))).toBe(KAT.hash1);
      const second = {
        ...first,
        sequenceStart: 3n,
        sequenceEnd: 4n,
        prevStateRoot: hexToBytes(KAT.r1),
        newStateRoot: hexToBytes(KAT.r2),
      };
      expect(bytesToHex(checkpointHash(sha256, second))).toBe(KAT.hash2);
    }
    // The state roots signed are the §11.3 chain computed by stateRoot.ts.
    const sid = streamId(nativeSha256, T, S);
    const r1 = nextStateRoot(nativeSha256, { streamId: sid, ...first });
    expect(bytesToHex(r1)).toBe(KAT.r1);
  });

  it("signs to the known signature with libsodium and noble", () => {
    const hash = hexToBytes(KAT.hash1);
    for (const ed of [sodiumEd25519, nobleEd25519]) {
      const seed = hexToBytes(KAT.sk2Seed);
      expect(bytesToHex(ed.createSigner(seed)(hash))).toBe(KAT.sig1);
      expect(ed.verify(hexToBytes(KAT.sig1), hash, ed.getPublicKey(seed))).toBe(true);
    }
  });

  it("lays out every field at a fixed offset", () => {
    const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.uuid(),
        u64,
        u64,
        fc.integer({ min: 0, max: 0xffffffff }),
        hash32,
        hash32,
        hash32,
        (t, s, a, b, n, m, p, r) => {
          const f = {
            tenantId: t,
            storeId: s,
            sequenceStart: a,
            sequenceEnd: b,
            leafCount: n,
            merkleRoot: m,
            prevStateRoot: p,
            newStateRoot: r,
          };
          const expected = concatBytes(
            DOMAIN_CHECKPOINT,
            uuidToBytes(t),
            uuidToBytes(s),
            u64be(a),
            u64be(b),
            u32be(n),
            m,
            p,
            r,
          );
          expect(checkpointPreimage(f)).toEqual(expected);
          expect(checkpointHash(nativeSha256, f)).toEqual(nativeSha256(expected));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("names the malformed field", () => {
    expect(() => checkpointHash(nativeSha256, { ...first, newStateRoot: new Uint8Array(31) })).toThrow(
      new RangeError('"new_state_root" expected 32 bytes, got 31'),
    );
    expect(() => checkpointHash(nativeSha256, { ...first, tenantId: "x" })).toThrow(/"tenant_id"/);
    expect(() => checkpointHash(nativeSha256, { ...first, leafCount: 2 ** 32 })).toThrow(/"leaf_count"/);
    expect(() => checkpointHash(nativeSha256, { ...first, sequenceEnd: -1n })).toThrow(/"sequence_end"/);
  });
});
