// Ed25519 (RFC 8032): the registration key check and the pure-JS SDK implementation, on @noble/curves
// (docs/protocol.md §2.3, §16.4). The port and the encoding checks are ed25519Encoding.ts's, re-exported here.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { assertBytes, concatBytes, equalBytes } from "./bytes.js";
import {
  assertVerifyArguments,
  type Ed25519,
  hasSmallOrderEncoding,
  isCanonicalEd25519Encoding,
} from "./ed25519Encoding.js";

export {
  assertVerifyArguments,
  type Ed25519,
  hasSmallOrderEncoding,
  isCanonicalEd25519Encoding,
} from "./ed25519Encoding.js";

/**
 * True only for the canonical encoding of a curve point in the prime-order subgroup that is not the identity
 * (what key registration accepts, §16.4). Small-order and mixed-order points are refused: honest keys are
 * never either, and refusing them leaves the cofactored (noble) and cofactorless (libsodium, OpenSSL) verifiers
 * no key on which they could disagree.
 */
export function isValidEd25519PublicKey(pk: Uint8Array): boolean {
  if (!(pk instanceof Uint8Array) || pk.length !== 32) return false;
  try {
    const point = ed25519.Point.fromBytes(pk, false);
    return !point.isSmallOrder() && point.isTorsionFree();
  } catch {
    return false;
  }
}

/** The order of the prime subgroup, L = 2^252 + 27742317777372353535851937790883648493. */
const L = ed25519.Point.Fn.ORDER;

function littleEndianToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
}

/**
 * @noble/curves Ed25519 (pure JS, runs in browsers), verifying exactly as libsodium's
 * `crypto_sign_verify_detached` does (the server's verifier): S < L; A canonical and not of small order;
 * R not of small order; then the cofactorless equation, checked as encode([S]B - [k]A) == R byte for byte.
 * noble's own `verify` checks the cofactored equation, which also accepts an R or A with a torsion
 * component (mixed order) that libsodium, OpenSSL and ed25519-dalek refuse; the SDK must give the
 * server's answer on every input (test/vectors/ed25519-edge-cases.json).
 */
export const nobleEd25519: Ed25519 = {
  name: "noble",
  getPublicKey(seed: Uint8Array): Uint8Array {
    return ed25519.getPublicKey(assertBytes(seed, 32, "seed"));
  },
  createSigner(seed: Uint8Array): (message: Uint8Array) => Uint8Array {
    const secret = assertBytes(seed, 32, "seed").slice();
    return (message: Uint8Array): Uint8Array =>
      ed25519.sign(assertBytes(message, undefined, "message"), secret);
  },
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    assertVerifyArguments(signature, message, publicKey);
    const r = signature.subarray(0, 32);
    const s = littleEndianToBigint(signature.subarray(32, 64));
    if (s >= L) return false;
    if (hasSmallOrderEncoding(r)) return false;
    if (!isCanonicalEd25519Encoding(publicKey) || hasSmallOrderEncoding(publicKey)) return false;
    let a: InstanceType<typeof ed25519.Point>;
    try {
      a = ed25519.Point.fromBytes(publicKey, false);
    } catch {
      return false;
    }
    const k = littleEndianToBigint(sha512(concatBytes(r, publicKey, message))) % L;
    const expectedR = ed25519.Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k));
    return equalBytes(expectedR.toBytes(), r);
  },
};
