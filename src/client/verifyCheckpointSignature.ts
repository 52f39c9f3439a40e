// Agent SDK: check a signed checkpoint (a commitment, proof.proto Commitment): its state root recomputes from
// its fields (docs/protocol.md §2.6) and the sequencer signed it. Pure; browser-safe.
import { type Ed25519, nobleEd25519 } from "../crypto/ed25519.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import {
  type CheckpointFailure,
  type CheckpointToCheck,
  checkCheckpoint,
  type Verdict,
} from "../domain/proofChecks.js";

export interface VerifyCheckpointOptions {
  readonly sha256?: Sha256;
  readonly ed25519?: Ed25519;
}

/**
 * Returns a verdict for a well-formed but wrong checkpoint ("checkpoint_range_mismatch", "state_root_mismatch",
 * "checkpoint_hash_mismatch", "bad_checkpoint_signature"); throws for malformed arguments.
 */
export function verifyCheckpointSignature(
  checkpoint: CheckpointToCheck,
  sequencerPublicKey: Uint8Array,
  opts: VerifyCheckpointOptions = {},
): Verdict<CheckpointFailure> {
  return checkCheckpoint(
    { sha256: opts.sha256 ?? nobleSha256, ed25519: opts.ed25519 ?? nobleEd25519 },
    checkpoint,
    sequencerPublicKey,
  );
}
