// The messages between verifyPool.ts and its worker threads: one transferred buffer of packed checks per message.
import type { SignatureCheck } from "../client/createAgent.js";

/** Bytes per packed check: public key (32) ‖ message (32, a receipt hash) ‖ signature (64). */
export const CHECK_BYTES = 128;

export interface VerifyRequest {
  readonly id: number;
  readonly buffer: ArrayBuffer;
}

export interface VerifyResponse {
  readonly id: number;
  /** One byte per check, 1 when the signature verifies. */
  readonly buffer: ArrayBuffer;
}

/** Whether a check fits the packed layout (anything else is verified on the caller's thread). */
export function packable(c: SignatureCheck): boolean {
  return c.publicKey.length === 32 && c.message.length === 32 && c.signature.length === 64;
}

export function packChecks(checks: readonly SignatureCheck[]): ArrayBuffer {
  const out = new Uint8Array(checks.length * CHECK_BYTES);
  for (const [j, c] of checks.entries()) {
    const o = j * CHECK_BYTES;
    out.set(c.publicKey, o);
    out.set(c.message, o + 32);
    out.set(c.signature, o + 64);
  }
  return out.buffer;
}
