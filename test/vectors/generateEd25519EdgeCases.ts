// Generates test/vectors/ed25519-edge-cases.json: Ed25519 signatures on which verifiers are known to differ
// (small-order and mixed-order R and A, non-canonical S, A and R), each with libsodium's answer, which is the
// server's. Run: node --import tsx test/vectors/generateEd25519EdgeCases.ts > test/vectors/ed25519-edge-cases.json
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, hexToBytes, utf8 } from "../../src/crypto/bytes.js";
import { sodiumEd25519 } from "../../src/crypto/native.js";

type Point = InstanceType<typeof ed25519.Point>;
const P = 2n ** 255n - 19n;
const L = ed25519.Point.Fn.ORDER;
const B = ed25519.Point.BASE;

const le = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
};
const fromLe = (b: Uint8Array): bigint => {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
};
const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint =>
  fromLe(sha512(concatBytes(r, a, m))) % L;

/** The 8-torsion subgroup, from a point of order 8; index i has order 8 / gcd(i, 8). */
const order8 = ed25519.Point.fromBytes(
  hexToBytes("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
);
const torsion: Point[] = [];
for (let i = 0, p = ed25519.Point.ZERO; i < 8; i++, p = p.add(order8)) torsion.push(p);
const T = (i: number): Point => torsion[i] as Point;

const key = (fill: number): { a: bigint; A: Uint8Array } => {
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(new Uint8Array(32).fill(fill));
  return { a: scalar, A: pointBytes };
};

interface Vector {
  name: string;
  description: string;
  public_key: string;
  message: string;
  signature: string;
  valid: boolean;
}
const vectors: Vector[] = [];
function add(name: string, description: string, A: Uint8Array, m: Uint8Array, sig: Uint8Array): void {
  vectors.push({
    name,
    description,
    public_key: bytesToHex(A),
    message: bytesToHex(m),
    signature: bytesToHex(sig),
    valid: sodiumEd25519.verify(sig, m, A),
  });
}

// 1. Honest signatures (RFC 8032 §7.1 test 1, and one from a seed).
add(
  "rfc8032-test-1",
  "RFC 8032 §7.1 TEST 1 (empty message)",
  hexToBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
  new Uint8Array(),
  hexToBytes(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  ),
);
const k1 = key(1);
const m1 = utf8("ves edge case");
const honest = ed25519.sign(m1, new Uint8Array(32).fill(1));
add("honest", "an ordinary signature", k1.A, m1, honest);

// 2. Non-canonical S.
const s1 = fromLe(honest.subarray(32));
add("s-plus-l", "S + L (malleated, S >= L)", k1.A, m1, concatBytes(honest.subarray(0, 32), le(s1 + L)));
add("s-high-bit", "S with bit 255 set", k1.A, m1, concatBytes(honest.subarray(0, 32), le(s1 + 2n ** 255n)));
add("s-equals-l", "S = L", k1.A, m1, concatBytes(honest.subarray(0, 32), le(L)));

// 3. Small-order R with S = k·a: passes the cofactored equation for every T, the cofactorless one for T = 0.
for (let i = 0; i < 8; i++) {
  const R = T(i).toBytes();
  const k = challenge(R, k1.A, m1);
  add(
    `small-order-r-${i}`,
    `R = ${i}·T8 (a point of small order), S = k·a`,
    k1.A,
    m1,
    concatBytes(R, le((k * k1.a) % L)),
  );
}
// The non-canonical spellings of the identity (y = p + 1) and of the order-2 point with the sign bit.
{
  const R = le(P + 1n);
  add(
    "small-order-r-noncanonical",
    "R = identity spelled y = p + 1, S = k·a",
    k1.A,
    m1,
    concatBytes(R, le((challenge(R, k1.A, m1) * k1.a) % L)),
  );
}

// 4. Mixed-order R = [r]B + T: passes the cofactored equation, never the cofactorless one.
for (const i of [1, 2, 4]) {
  const r = 123456789n + BigInt(i);
  const R = B.multiply(r).add(T(i)).toBytes();
  const k = challenge(R, k1.A, m1);
  add(
    `mixed-order-r-${i}`,
    `R = [r]B + ${i}·T8 (a component of order ${8 / i}), S = r + k·a`,
    k1.A,
    m1,
    concatBytes(R, le((r + k * k1.a) % L)),
  );
}

// 5. Small-order public keys: with R of small order and S = 0 both equations can hold.
for (let i = 0; i < 8; i++) {
  const A = T(i).toBytes();
  add(`small-order-a-${i}`, `A = ${i}·T8, R = identity, S = 0`, A, m1, concatBytes(T(0).toBytes(), le(0n)));
}
add("small-order-a-r", "A = T8, R = 2·T8, S = 0", T(1).toBytes(), m1, concatBytes(T(2).toBytes(), le(0n)));

// 6. Mixed-order public key A = [a]B + T8, R = [r]B, S = r + k·a: the cofactorless equation holds exactly
// when k·T8 = 0 (k ≡ 0 mod 8), the cofactored one always.
{
  const a = k1.a;
  const A = B.multiply(a).add(T(1)).toBytes();
  const found = { pass: false, fail: false };
  for (let n = 0; n < 200 && !(found.pass && found.fail); n++) {
    const m = utf8(`mixed-order key ${n}`);
    const r = 987654321n + BigInt(n);
    const R = B.multiply(r).toBytes();
    const k = challenge(R, A, m);
    const sig = concatBytes(R, le((r + k * a) % L));
    const zero = k % 8n === 0n;
    if (zero && !found.pass) {
      found.pass = true;
      add("mixed-order-a-k-multiple-of-8", "A = [a]B + T8, honest R and S, k ≡ 0 mod 8", A, m, sig);
    } else if (!zero && !found.fail) {
      found.fail = true;
      add("mixed-order-a", "A = [a]B + T8, honest R and S, k ≢ 0 mod 8", A, m, sig);
    }
  }
}

// 7. Non-canonical and off-curve encodings of A and R.
{
  let onCurve: Uint8Array | undefined;
  for (let y = 2n; y < 19n && onCurve === undefined; y++) {
    try {
      const p = ed25519.Point.fromBytes(le(y));
      if (!p.isSmallOrder()) onCurve = le(y + P);
    } catch {}
  }
  if (onCurve === undefined) throw new Error("no point with y < 19");
  add(
    "noncanonical-a",
    "A's y-coordinate spelled y + p (a valid, non-small-order point)",
    onCurve,
    m1,
    honest,
  );
  const sig = concatBytes(onCurve, honest.subarray(32));
  add("noncanonical-r", "R spelled y + p", k1.A, m1, sig);
  add(
    "r-sign-bit",
    "R with its sign bit flipped",
    k1.A,
    m1,
    (() => {
      const s = honest.slice();
      s[31] = (s[31] as number) ^ 0x80;
      return s;
    })(),
  );
  add("a-off-curve", "A = (y = 2), not a curve point", le(2n), m1, honest);
  add("r-off-curve", "R = (y = 2), not a curve point", k1.A, m1, concatBytes(le(2n), honest.subarray(32)));
  add("wrong-message", "an honest signature over another message", k1.A, utf8("other"), honest);
}

process.stdout.write(
  `${JSON.stringify(
    {
      title: "Ed25519 verification edge cases",
      description:
        "Signatures on which Ed25519 verifiers differ. `valid` is libsodium's crypto_sign_verify_detached answer " +
        "(the server's): S < L, A canonical and not of small order, R not of small order, then the " +
        "cofactorless equation encode([S]B - [k]A) == R. Every verifier of this project (libsodium, " +
        "node:crypto, the SDK's noble) must give the same answer. Hex strings; T8 is the point of order 8 " +
        "26e8958f…6d53fc05. Generated by test/vectors/generateEd25519EdgeCases.ts.",
      vectors,
    },
    null,
    2,
  )}\n`,
);
