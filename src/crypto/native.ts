// Server-only native crypto: node:crypto SHA-256, libsodium or OpenSSL Ed25519 (docs/protocol.md §16.4).

import type { KeyObject } from "node:crypto";
import * as nodeCrypto from "node:crypto";
import { createRequire } from "node:module";
import { assertBytes, hexToBytes } from "./bytes.js";
import {
  assertVerifyArguments,
  type Ed25519,
  hasSmallOrderEncoding,
  isCanonicalEd25519Encoding,
} from "./ed25519Encoding.js";
import type { Sha256 } from "./sha256.js";

type Sodium = typeof import("sodium-native");

/** Wraps bytes as a Buffer view for APIs typed with Buffer: no copy. */
function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** A plain Uint8Array over a Buffer's memory (Buffer#slice would share memory where callers expect a copy). */
function asPlain(b: Buffer): Uint8Array {
  return b.byteLength === b.buffer.byteLength ? new Uint8Array(b.buffer) : new Uint8Array(b);
}

/**
 * SHA-256 from node:crypto's one-shot `crypto.hash` (Node ≥ 20.12). package.json still allows 20.11, which
 * lacks `crypto.hash`, so there it falls back to createHash.
 */
export const nativeSha256: Sha256 =
  typeof nodeCrypto.hash === "function"
    ? (data: Uint8Array): Uint8Array => asPlain(nodeCrypto.hash("sha256", data, "buffer"))
    : (data: Uint8Array): Uint8Array => asPlain(nodeCrypto.createHash("sha256").update(data).digest());

let sodium: Sodium | null | undefined;

/** Loads sodium-native once; null when the native addon is missing or fails to load. */
function loadSodium(): Sodium | null {
  if (sodium === undefined) {
    try {
      sodium = createRequire(import.meta.url)("sodium-native") as Sodium;
    } catch {
      sodium = null;
    }
  }
  return sodium;
}

function requireSodium(): Sodium {
  const s = loadSodium();
  if (s === null) throw new Error("sodium-native is not available in this process");
  return s;
}

function sodiumKeyPair(s: Sodium, seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const publicKey = new Uint8Array(32);
  const secretKey = new Uint8Array(64);
  s.crypto_sign_seed_keypair(
    asBuffer(publicKey),
    asBuffer(secretKey),
    asBuffer(assertBytes(seed, 32, "seed")),
  );
  return { publicKey, secretKey };
}

/**
 * libsodium Ed25519 through sodium-native. Verification refuses non-canonical S, non-canonical or
 * small-order keys, and small-order R, then checks the cofactorless equation. Throws on first use when
 * the addon cannot be loaded; `serverEd25519()` picks it only when it loads.
 */
export const sodiumEd25519: Ed25519 = {
  name: "sodium-native",
  getPublicKey(seed: Uint8Array): Uint8Array {
    return sodiumKeyPair(requireSodium(), seed).publicKey;
  },
  createSigner(seed: Uint8Array): (message: Uint8Array) => Uint8Array {
    const s = requireSodium();
    // Expanded once: the 64-byte secret key is seed ‖ public key, so signing skips the key derivation.
    const secretKey = asBuffer(sodiumKeyPair(s, seed).secretKey);
    return (message: Uint8Array): Uint8Array => {
      const signature = new Uint8Array(64);
      s.crypto_sign_detached(
        asBuffer(signature),
        asBuffer(assertBytes(message, undefined, "message")),
        secretKey,
      );
      return signature;
    };
  },
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    const s = requireSodium();
    assertVerifyArguments(signature, message, publicKey);
    return s.crypto_sign_verify_detached(asBuffer(signature), asBuffer(message), asBuffer(publicKey));
  },
};

const PKCS8_PREFIX = hexToBytes("302e020100300506032b657004220420");
const SPKI_PREFIX = hexToBytes("302a300506032b6570032100");
const PUBLIC_KEY_CACHE_LIMIT = 4096;
const publicKeyCache = new Map<string, KeyObject>();

function prefixed(prefix: Uint8Array, key: Uint8Array): Buffer {
  const der = Buffer.allocUnsafe(prefix.length + 32);
  der.set(prefix, 0);
  der.set(key, prefix.length);
  return der;
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return nodeCrypto.createPrivateKey({
    key: prefixed(PKCS8_PREFIX, assertBytes(seed, 32, "seed")),
    format: "der",
    type: "pkcs8",
  });
}

/** A cached public KeyObject; undefined when OpenSSL refuses the encoding. */
function publicKeyObject(publicKey: Uint8Array): KeyObject | undefined {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString("latin1");
  let key = publicKeyCache.get(id);
  if (key !== undefined) {
    // Re-insert so the Map's order is least-recently-used first.
    publicKeyCache.delete(id);
    publicKeyCache.set(id, key);
    return key;
  }
  try {
    key = nodeCrypto.createPublicKey({ key: prefixed(SPKI_PREFIX, publicKey), format: "der", type: "spki" });
  } catch {
    return undefined;
  }
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) {
    const oldest = publicKeyCache.keys().next().value;
    if (oldest !== undefined) publicKeyCache.delete(oldest);
  }
  publicKeyCache.set(id, key);
  return key;
}

/**
 * OpenSSL Ed25519 through node:crypto, the fallback when sodium-native is unavailable. OpenSSL alone accepts
 * small-order keys (the identity key with R = identity, S = 0 "verifies" any message), so libsodium's
 * key and R checks run first and both native implementations accept and refuse the same signatures.
 */
export const nodeEd25519: Ed25519 = {
  name: "node:crypto",
  getPublicKey(seed: Uint8Array): Uint8Array {
    const spki = nodeCrypto.createPublicKey(privateKeyObject(seed)).export({ format: "der", type: "spki" });
    return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
  },
  createSigner(seed: Uint8Array): (message: Uint8Array) => Uint8Array {
    const key = privateKeyObject(seed);
    return (message: Uint8Array): Uint8Array =>
      asPlain(nodeCrypto.sign(null, asBuffer(assertBytes(message, undefined, "message")), key));
  },
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    assertVerifyArguments(signature, message, publicKey);
    if (!isCanonicalEd25519Encoding(publicKey) || hasSmallOrderEncoding(publicKey)) return false;
    if (hasSmallOrderEncoding(signature.subarray(0, 32))) return false;
    const key = publicKeyObject(publicKey);
    if (key === undefined) return false;
    try {
      return nodeCrypto.verify(null, asBuffer(message), key, asBuffer(signature));
    } catch {
      return false;
    }
  },
};

/** The server's Ed25519: libsodium when sodium-native loads, else node:crypto. */
export function serverEd25519(): Ed25519 {
  return loadSodium() === null ? nodeEd25519 : sodiumEd25519;
}

/** Byte-string equality in time independent of the contents (node:crypto timingSafeEqual); false on length mismatch. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && nodeCrypto.timingSafeEqual(a, b);
}
