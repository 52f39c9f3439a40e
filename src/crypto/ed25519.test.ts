// Tests for Ed25519 key checks and noble/libsodium/OpenSSL agreement (RFC 8032, docs/protocol.md §16.4).
import { createPublicKey, verify as opensslVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, concatBytes, hexToBytes } from "./bytes.js";
import {
  type Ed25519,
  hasSmallOrderEncoding,
  isCanonicalEd25519Encoding,
  isValidEd25519PublicKey,
  nobleEd25519,
} from "./ed25519.js";
import { nodeEd25519, serverEd25519, sodiumEd25519 } from "./native.js";

const impls: Ed25519[] = [sodiumEd25519, nodeEd25519, nobleEd25519];
const h = hexToBytes;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const RFC8032_KEYS = [
  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
];
const IDENTITY = "0100000000000000000000000000000000000000000000000000000000000000";
const ORDER_2 = "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
const ORDER_8 = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05";

/** The eight points of small order, canonically encoded, from a generator of the 8-torsion subgroup. */
function torsionEncodings(): Uint8Array[] {
  const g = ed25519.Point.fromBytes(h(ORDER_8));
  const out: Uint8Array[] = [];
  let p = ed25519.Point.ZERO;
  for (let k = 0; k < 8; k++) {
    out.push(p.toBytes());
    p = p.add(g);
  }
  return out;
}

function withSignBit(b: Uint8Array): Uint8Array {
  const out = b.slice();
  out[31] = (out[31] as number) ^ 0x80;
  return out;
}

function scalarLe(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

function scalarFromLe(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
}

describe("isValidEd25519PublicKey", () => {
  it("accepts the RFC 8032 keys", () => {
    for (const pk of RFC8032_KEYS) expect(isValidEd25519PublicKey(h(pk)), pk).toBe(true);
  });

  it("rejects the identity, every small-order point and non-canonical or non-point encodings", () => {
    expect(isValidEd25519PublicKey(h(IDENTITY))).toBe(false);
    expect(isValidEd25519PublicKey(h(ORDER_2))).toBe(false);
    expect(isValidEd25519PublicKey(h(ORDER_8))).toBe(false);
    for (const t of torsionEncodings()) expect(isValidEd25519PublicKey(t), bytesToHex(t)).toBe(false);
    // y = 2 is not the y-coordinate of any curve point.
    expect(isValidEd25519PublicKey(h(`02${"00".repeat(31)}`))).toBe(false);
    // y = p (non-canonical zero) and y = 2^255 - 1 (out of range).
    expect(isValidEd25519PublicKey(h(`ed${"ff".repeat(30)}7f`))).toBe(false);
    expect(isValidEd25519PublicKey(h(`ff${"ff".repeat(30)}7f`))).toBe(false);
    // x = 0 with the sign bit set is not a canonical encoding.
    expect(isValidEd25519PublicKey(withSignBit(h(IDENTITY)))).toBe(false);
    expect(isValidEd25519PublicKey(h(RFC8032_KEYS[0] as string).subarray(0, 31))).toBe(false);
    expect(isValidEd25519PublicKey("d75a98" as unknown as Uint8Array)).toBe(false);
  });

  it("refuses a mixed-order point (a prime-order point plus torsion; honest keys never are)", () => {
    const mixed = h(`03${"00".repeat(31)}`);
    expect(ed25519.Point.fromBytes(mixed).isTorsionFree()).toBe(false);
    expect(isValidEd25519PublicKey(mixed)).toBe(false);
  });

  it("accepts every key derived from a seed", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        expect(isValidEd25519PublicKey(nobleEd25519.getPublicKey(seed))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});

describe("small-order and canonical encoding checks", () => {
  it("flag exactly the encodings of small-order points, either sign bit", () => {
    for (const t of torsionEncodings()) {
      expect(hasSmallOrderEncoding(t), bytesToHex(t)).toBe(true);
      expect(hasSmallOrderEncoding(withSignBit(t)), bytesToHex(t)).toBe(true);
    }
    // The non-canonical spellings of y = 0 and y = 1 (p and p + 1).
    expect(hasSmallOrderEncoding(h(`ed${"ff".repeat(30)}7f`))).toBe(true);
    expect(hasSmallOrderEncoding(h(`ee${"ff".repeat(30)}7f`))).toBe(true);
    for (const pk of RFC8032_KEYS) expect(hasSmallOrderEncoding(h(pk))).toBe(false);
    expect(hasSmallOrderEncoding(h(`03${"00".repeat(31)}`))).toBe(false);
  });

  it("agree with noble on whether a decodable encoding has small order", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
        let small: boolean | undefined;
        try {
          small = ed25519.Point.fromBytes(b, true).isSmallOrder();
        } catch {
          return;
        }
        expect(hasSmallOrderEncoding(b)).toBe(small);
      }),
    );
  });

  it("call y < p canonical", () => {
    expect(isCanonicalEd25519Encoding(h(ORDER_2))).toBe(true);
    expect(isCanonicalEd25519Encoding(withSignBit(h(ORDER_2)))).toBe(true);
    expect(isCanonicalEd25519Encoding(h(`ed${"ff".repeat(30)}7f`))).toBe(false);
    expect(isCanonicalEd25519Encoding(h(`ed${"ff".repeat(30)}ff`))).toBe(false);
    expect(isCanonicalEd25519Encoding(h(`ff${"ff".repeat(30)}7f`))).toBe(false);
    expect(isCanonicalEd25519Encoding(h(`ec${"ff".repeat(29)}fe7f`))).toBe(true);
  });
});

describe.each(impls)("$name", (ed) => {
  it("checks argument types and lengths", () => {
    const sig = new Uint8Array(64);
    const pk = h(RFC8032_KEYS[0] as string);
    expect(() => ed.verify(new Uint8Array(63), new Uint8Array(), pk)).toThrow(
      new RangeError('"signature" expected 64 bytes, got 63'),
    );
    expect(() => ed.verify(sig, new Uint8Array(), pk.subarray(1))).toThrow(
      new RangeError('"public_key" expected 32 bytes, got 31'),
    );
    expect(() => ed.verify(sig, "msg" as unknown as Uint8Array, pk)).toThrow(TypeError);
    expect(() => ed.getPublicKey(new Uint8Array(31))).toThrow(
      new RangeError('"seed" expected 32 bytes, got 31'),
    );
    expect(() => ed.createSigner(new Uint8Array(33))).toThrow(RangeError);
    expect(() => ed.createSigner(new Uint8Array(32))("m" as unknown as Uint8Array)).toThrow(TypeError);
  });

  it("keeps its own copy of the key", () => {
    const seed = new Uint8Array(32).fill(9);
    const sign = ed.createSigner(seed);
    const before = sign(new Uint8Array([1]));
    seed.fill(0);
    expect(sign(new Uint8Array([1]))).toEqual(before);
  });

  it("refuses the identity-key forgery (R = identity, S = 0) that bare OpenSSL accepts", () => {
    const pk = h(IDENTITY);
    const forged = concatBytes(h(IDENTITY), new Uint8Array(32));
    expect(ed.verify(forged, new Uint8Array([1, 2, 3]), pk)).toBe(false);
  });

  it("refuses small-order keys and R even when the equation holds", () => {
    // Any R of small order with S = 0 satisfies the cofactored equation for a small-order key.
    for (const t of torsionEncodings()) {
      expect(ed.verify(concatBytes(t, new Uint8Array(32)), new Uint8Array(), t), bytesToHex(t)).toBe(false);
    }
  });

  it("refuses a small-order R that a key holder can make pass the equation", () => {
    // With the secret scalar a, (R = T, S = k·a) satisfies [8]SB = [8]R + [8]kA for any torsion T, and the
    // cofactorless equation too when T is the identity. libsodium refuses all of them; so must everyone.
    const seed = new Uint8Array(32).fill(5);
    const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
    const message = new Uint8Array([6]);
    for (const t of torsionEncodings()) {
      const k = scalarFromLe(sha512(concatBytes(t, pointBytes, message))) % L;
      const sig = concatBytes(t, scalarLe((k * scalar) % L));
      expect(ed.verify(sig, message, pointBytes), bytesToHex(t)).toBe(false);
    }
  });

  it("refuses a malleated S + L", () => {
    const seed = new Uint8Array(32).fill(3);
    const message = new Uint8Array([4, 5]);
    const sig = ed.createSigner(seed)(message);
    const s = scalarFromLe(sig.subarray(32));
    const malleated = concatBytes(sig.subarray(0, 32), scalarLe(s + L));
    expect(ed.verify(sig, message, ed.getPublicKey(seed))).toBe(true);
    expect(ed.verify(malleated, message, ed.getPublicKey(seed))).toBe(false);
  });
});

describe("agreement", () => {
  it("the raw OpenSSL check really accepts the identity forgery (why nodeEd25519 screens keys first)", () => {
    const spki = concatBytes(h("302a300506032b6570032100"), h(IDENTITY));
    const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    const forged = concatBytes(h(IDENTITY), new Uint8Array(32));
    expect(opensslVerify(null, Buffer.from("anything"), key, forged)).toBe(true);
  });

  it("sodium, node:crypto and noble derive the same keys and signatures and verify each other's", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat({ max: 511 }),
        (seed, message, bit) => {
          const keys = impls.map((ed) => bytesToHex(ed.getPublicKey(seed)));
          expect(new Set(keys).size).toBe(1);
          const pk = h(keys[0] as string);
          const sigs = impls.map((ed) => ed.createSigner(seed)(message));
          for (const s of sigs) expect(s).toEqual(sigs[0]);
          const sig = sigs[0] as Uint8Array;
          const tampered = sig.slice();
          tampered[bit >> 3] = (tampered[bit >> 3] as number) ^ (1 << (bit & 7));
          const otherMessage = concatBytes(message, new Uint8Array([0]));
          for (const ed of impls) {
            expect(ed.verify(sig, message, pk), ed.name).toBe(true);
            expect(ed.verify(tampered, message, pk), ed.name).toBe(false);
            expect(ed.verify(sig, otherMessage, pk), ed.name).toBe(false);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("serverEd25519 picks libsodium when it loads", () => {
    expect(serverEd25519()).toBe(sodiumEd25519);
  });
});

describe("edge-case vectors (test/vectors/ed25519-edge-cases.json)", () => {
  const file = JSON.parse(
    readFileSync(new URL("../../test/vectors/ed25519-edge-cases.json", import.meta.url), "utf8"),
  ) as {
    vectors: { name: string; public_key: string; message: string; signature: string; valid: boolean }[];
  };
  const cases = file.vectors.map((v) => ({
    ...v,
    pk: h(v.public_key),
    msg: h(v.message),
    sig: h(v.signature),
  }));

  it("cover small-order, mixed-order and non-canonical R, A and S", () => {
    const names = cases.map((c) => c.name);
    for (const prefix of ["small-order-r", "mixed-order-r", "small-order-a", "mixed-order-a", "s-plus-l"]) {
      expect(
        names.some((n) => n.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
    expect(cases.filter((c) => c.valid).length).toBeGreaterThanOrEqual(3);
  });

  it.each(impls)("$name gives the recorded (libsodium) answer on every vector", (ed) => {
    for (const c of cases) expect(ed.verify(c.sig, c.msg, c.pk), c.name).toBe(c.valid);
  });

  it("include signatures noble's own cofactored verify accepts (why the SDK checks the cofactorless equation)", () => {
    const accepted = cases.filter((c) => !c.valid && ed25519.verify(c.sig, c.msg, c.pk, { zip215: false }));
    expect(accepted.map((c) => c.name)).toEqual(
      expect.arrayContaining(["mixed-order-r-1", "mixed-order-r-2", "mixed-order-r-4", "mixed-order-a"]),
    );
  });

  it("noble and libsodium agree on random mixed-order R and A", () => {
    const t8 = ed25519.Point.fromBytes(h(ORDER_8));
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 7 }),
        fc.bigInt({ min: 1n, max: L - 1n }),
        (seed, message, ti, ai, r) => {
          const { scalar } = ed25519.utils.getExtendedPublicKey(seed);
          const torsion = (i: number) => (i === 0 ? ed25519.Point.ZERO : t8.multiply(BigInt(i)));
          const pk = ed25519.Point.BASE.multiply(scalar).add(torsion(ai)).toBytes();
          const R = ed25519.Point.BASE.multiply(r).add(torsion(ti)).toBytes();
          const k = scalarFromLe(sha512(concatBytes(R, pk, message))) % L;
          const sig = concatBytes(R, scalarLe((r + k * scalar) % L));
          const expected = sodiumEd25519.verify(sig, message, pk);
          expect(nobleEd25519.verify(sig, message, pk)).toBe(expected);
          expect(nodeEd25519.verify(sig, message, pk)).toBe(expected);
        },
      ),
      { numRuns: 40 },
    );
  });
});
