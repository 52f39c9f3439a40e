// Agent SDK: check a Merkle inclusion proof of an event (docs/protocol.md §2.5) without trusting the server.
// Pure; browser-safe (pass a native SHA-256 on a server for speed).
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import {
  checkInclusionProof,
  type InclusionFailure,
  type InclusionProofToCheck,
  type Verdict,
} from "../domain/proofChecks.js";

export interface VerifyInclusionProofOptions {
  /** The Merkle root the caller trusts, e.g. from a checkpoint whose signature it checked. */
  readonly expectedRoot?: Uint8Array;
  readonly sha256?: Sha256;
}

/**
 * Recomputes the leaf from the proof's event fields (stream, sequence number, signing hash, agent signature),
 * checks the leaf index is the event's position in the commitment and folds the siblings up to the root.
 * Returns a verdict for a well-formed but wrong proof; throws TypeError / RangeError for malformed arguments
 * (wrong byte lengths, more than 64 siblings).
 */
export function verifyInclusionProof(
  proof: InclusionProofToCheck,
  opts: VerifyInclusionProofOptions = {},
): Verdict<InclusionFailure> {
  return checkInclusionProof(opts.sha256 ?? nobleSha256, proof, opts.expectedRoot);
}
