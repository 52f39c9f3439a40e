// The Ed25519 port and the checks every implementation runs on encodings and arguments, before any curve
// arithmetic: no curve library here, so the server's native implementation (native.ts) and its crypto workers
// load none (docs/protocol.md §16.4).
import { assertBytes } from "./bytes.js";

/**
 * One Ed25519 implementation. `verify` returns false for a bad signature and throws TypeError/RangeError
 * only for arguments of the wrong type or length.
 */
export interface Ed25519 {
  readonly name: string;
  /** The 32-byte public key of a 32-byte seed. */
  getPublicKey(seed: Uint8Array): Uint8Array;
  /** A signing function for a 32-byte seed; the key is prepared once. */
  createSigner(seed: Uint8Array): (message: Uint8Array) => Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

function blocked(first: number, last: number, fill: number): Uint8Array {
  const b = new Uint8Array(32).fill(fill);
  b[0] = first;
  b[31] = last;
  return b;
}

// libsodium's list: every encoding (sign bit ignored) of a point of order 1, 2, 4 or 8, including the
// non-canonical p and p+1. Checked against noble in ed25519.test.ts.
const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = [
  blocked(0x00, 0x00, 0x00),
  blocked(0x01, 0x00, 0x00),
  Uint8Array.from([
    0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5,
    0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
  ]),
  Uint8Array.from([
    0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a,
    0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
  ]),
  blocked(0xec, 0x7f, 0xff),
  blocked(0xed, 0x7f, 0xff),
  blocked(0xee, 0x7f, 0xff),
];

/**
 * True when 32 bytes encode (with either sign bit) a point of small order, by table lookup as libsodium
 * does. Cheap enough to run before every verification so all implementations refuse the same keys and R.
 */
export function hasSmallOrderEncoding(encoding: Uint8Array): boolean {
  if (encoding.length !== 32) return false;
  for (const bad of SMALL_ORDER_ENCODINGS) {
    let diff = ((encoding[31] as number) & 0x7f) ^ (bad[31] as number);
    for (let i = 0; i < 31; i++) diff |= (encoding[i] as number) ^ (bad[i] as number);
    if (diff === 0) return true;
  }
  return false;
}

/** True when the y-coordinate of a 32-byte point encoding is below p = 2^255 - 19 (libsodium's rule). */
export function isCanonicalEd25519Encoding(encoding: Uint8Array): boolean {
  if (encoding.length !== 32) return false;
  if (((encoding[31] as number) & 0x7f) !== 0x7f) return true;
  for (let i = 1; i < 31; i++) if (encoding[i] !== 0xff) return true;
  return (encoding[0] as number) < 0xed;
}

/** Argument checks shared by every implementation's verify. */
export function assertVerifyArguments(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): void {
  assertBytes(signature, 64, "signature");
  assertBytes(message, undefined, "message");
  assertBytes(publicKey, 32, "public_key");
}
