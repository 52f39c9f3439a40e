// Agent SDK: check that a later state root extends an earlier one (docs/protocol.md §2.6), e.g. the state roots
// of two signed checkpoints the client holds. Pure; browser-safe.
import { equalBytes } from "../crypto/bytes.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import type { ConsistencyProof } from "../domain/commitment.js";
import { type ConsistencyFailure, checkConsistencyProof, type Verdict } from "../domain/proofChecks.js";

/** The end and state root of a checkpoint the caller trusts (a Commitment whose signature it checked). */
export interface TrustedState {
  readonly sequenceEnd: bigint;
  readonly newStateRoot: Uint8Array;
}

export interface VerifyConsistencyOptions {
  /** The earlier checkpoint the proof must start from; omit to trust the proof's from fields. */
  readonly from?: TrustedState;
  /** The later checkpoint the proof must end at; omit to trust the proof's to fields. */
  readonly to?: TrustedState;
  readonly sha256?: Sha256;
}

/**
 * Checks the links cover from_sequence_end + 1 .. to_sequence_end with no gap or overlap and fold
 * from_state_root into to_state_root; with `from` / `to`, also that the proof's ends are those checkpoints.
 * Returns a verdict for a well-formed but wrong proof; throws for malformed arguments (more than 4096 links).
 */
export function verifyConsistency(
  proof: ConsistencyProof,
  opts: VerifyConsistencyOptions = {},
): Verdict<ConsistencyFailure> {
  for (const [name, trusted, end, root] of [
    ["from", opts.from, proof.fromSequenceEnd, proof.fromStateRoot],
    ["to", opts.to, proof.toSequenceEnd, proof.toStateRoot],
  ] as const) {
    if (trusted === undefined) continue;
    if (trusted.sequenceEnd !== end) {
      return {
        valid: false,
        reason: "range_mismatch",
        message: `the proof's ${name}_sequence_end ${end} is not the trusted checkpoint's ${trusted.sequenceEnd}`,
      };
    }
    if (!equalBytes(trusted.newStateRoot, root)) {
      return {
        valid: false,
        reason: "state_root_mismatch",
        message: `the proof's ${name}_state_root is not the trusted checkpoint's new_state_root`,
      };
    }
  }
  return checkConsistencyProof(opts.sha256 ?? nobleSha256, proof);
}
