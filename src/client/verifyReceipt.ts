// Agent SDK: check a sequencer receipt (docs/protocol.md §2.4) without trusting the server, optionally together
// with its upgrade (an inclusion proof and the signed checkpoint it leads to). Pure; browser-safe.
import { type Ed25519, nobleEd25519 } from "../crypto/ed25519.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import {
  type CheckpointToCheck,
  checkReceipt,
  checkSealedReceipt,
  type InclusionProofToCheck,
  type ReceiptFailure,
  type ReceiptToCheck,
  type SealedReceiptFailure,
  type Verdict,
} from "../domain/proofChecks.js";

export type ReceiptToVerify = ReceiptToCheck;

export type ReceiptVerdict = Verdict<ReceiptFailure>;
export type SealedReceiptVerdict = Verdict<SealedReceiptFailure>;

export interface VerifyReceiptOptions {
  /** The signing hash the client computed for its own event; the receipt must be for exactly that. */
  readonly expectedSigningHash?: Uint8Array;
  readonly sha256?: Sha256;
  readonly ed25519?: Ed25519;
}

export interface ReceiptUpgradeToVerify {
  /** The inclusion proof of the receipt's event (ReceiptUpgrade.proofs[i] or GetInclusionProof's proof). */
  readonly proof: InclusionProofToCheck;
  /** The signed checkpoint the proof leads to. */
  readonly checkpoint: CheckpointToCheck;
  /** The key that signed the checkpoint, when the sequencer rotated keys since the receipt. */
  readonly checkpointKey?: Uint8Array;
}

/**
 * Recomputes the receipt hash from its fields and checks the sequencer's Ed25519 signature over it. With
 * `upgrade`, also checks that the proof is for the receipt's event and leads to the checkpoint's Merkle root,
 * and the checkpoint itself (state root and signature): the event is then provably in the signed log.
 * Returns a verdict for a well-formed but wrong input; throws only for malformed arguments.
 */
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts?: VerifyReceiptOptions,
): ReceiptVerdict;
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts: VerifyReceiptOptions & { readonly upgrade: ReceiptUpgradeToVerify },
): SealedReceiptVerdict;
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts: VerifyReceiptOptions & { readonly upgrade?: ReceiptUpgradeToVerify } = {},
): SealedReceiptVerdict {
  const crypto = { sha256: opts.sha256 ?? nobleSha256, ed25519: opts.ed25519 ?? nobleEd25519 };
  if (opts.upgrade === undefined) {
    return checkReceipt(crypto, r, sequencerPublicKey, opts.expectedSigningHash);
  }
  const { proof, checkpoint, checkpointKey } = opts.upgrade;
  return checkSealedReceipt(
    crypto,
    { receipt: r, proof, checkpoint },
    { receiptKey: sequencerPublicKey, checkpointKey },
    opts.expectedSigningHash,
  );
}
