// SHA-256 (FIPS 180-4) as an injectable function; the pure-JS implementation for browser-capable code.
import { sha256 } from "@noble/hashes/sha2.js";

/**
 * A SHA-256 implementation: returns a fresh 32-byte digest and does not keep `data`.
 * The server injects `nativeSha256` (node:crypto), the SDK `nobleSha256`.
 */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** Pure-JS SHA-256 from @noble/hashes (runs in browsers). */
export const nobleSha256: Sha256 = (data: Uint8Array): Uint8Array => sha256(data);
