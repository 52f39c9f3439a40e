// Agent SDK: check a sequencer receipt (ves-protocol.md §2.4) without trusting the server. Pure; browser-safe.
import { equalBytes } from "../crypto/bytes.js";
import { type Ed25519, nobleEd25519 } from "../crypto/ed25519.js";
import { receiptHash } from "../crypto/receiptHash.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";

export interface ReceiptToVerify {
  readonly tenantId: string;
  readonly storeId: string;
  readonly eventId: string;
  readonly sequenceNumber: bigint;
  readonly eventSigningHash: Uint8Array;
  readonly receiptHash: Uint8Array;
  readonly sequencerSignature: Uint8Array;
}

export type ReceiptVerdict =
  | { readonly valid: true }
  | {
      readonly valid: false;
      readonly reason: "signing_hash_mismatch" | "receipt_hash_mismatch" | "bad_signature";
    };

export interface VerifyReceiptOptions {
  /** The signing hash the client computed for its own event; the receipt must be for exactly that. */
  readonly expectedSigningHash?: Uint8Array;
  readonly sha256?: Sha256;
  readonly ed25519?: Ed25519;
}

/**
 * Recomputes the receipt hash from its fields and checks the sequencer's Ed25519 signature over it.
 * Returns a verdict for a well-formed but wrong receipt; throws only for malformed arguments.
 */
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts: VerifyReceiptOptions = {},
): ReceiptVerdict {
  const sha256 = opts.sha256 ?? nobleSha256;
  const ed25519 = opts.ed25519 ?? nobleEd25519;
  if (opts.expectedSigningHash !== undefined && !equalBytes(opts.expectedSigningHash, r.eventSigningHash)) {
    return { valid: false, reason: "signing_hash_mismatch" };
  }
  const expected = receiptHash(sha256, r);
  if (!equalBytes(expected, r.receiptHash)) return { valid: false, reason: "receipt_hash_mismatch" };
  if (!ed25519.verify(r.sequencerSignature, expected, sequencerPublicKey))
    return { valid: false, reason: "bad_signature" };
  return { valid: true };
}
