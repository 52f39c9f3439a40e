// Signed-checkpoint hash of a commitment: this project's extension (upstream VES has no signed checkpoint).
// The sequencer signs these 32 bytes with its receipt key, as it signs receipt hashes (docs/protocol.md §2.4,
// §2.6; proof.proto Commitment).
import { assertBytes, assertU32, assertU64, assertUuid, writeUuid } from "./bytes.js";
import type { Sha256 } from "./sha256.js";

/** "VES_CHECKPOINT_V1" (17 bytes). Not an upstream separator, so it is not in domains.ts. */
export const DOMAIN_CHECKPOINT: Uint8Array = Uint8Array.from("VES_CHECKPOINT_V1", (c) => c.charCodeAt(0));

export interface CheckpointFields {
  readonly tenantId: string;
  readonly storeId: string;
  readonly sequenceStart: bigint;
  readonly sequenceEnd: bigint;
  readonly leafCount: number;
  readonly merkleRoot: Uint8Array;
  readonly prevStateRoot: Uint8Array;
  readonly newStateRoot: Uint8Array;
}

/** Length of the checkpoint preimage: 17 + 2 × 16 + 2 × 8 + 4 + 3 × 32. */
export const CHECKPOINT_PREIMAGE_BYTES: number = DOMAIN_CHECKPOINT.length + 32 + 16 + 4 + 96;

/**
 * "VES_CHECKPOINT_V1" ‖ UUID(tenant) ‖ UUID(store) ‖ U64(start) ‖ U64(end) ‖ U32(leaf_count) ‖ merkle_root ‖
 * prev_state_root ‖ new_state_root: fixed length, so no field can bleed into the next.
 */
export function checkpointPreimage(f: CheckpointFields): Uint8Array {
  const tenantId = assertUuid(f.tenantId, "tenant_id");
  const storeId = assertUuid(f.storeId, "store_id");
  const start = assertU64(f.sequenceStart, "sequence_start");
  const end = assertU64(f.sequenceEnd, "sequence_end");
  const leafCount = assertU32(f.leafCount, "leaf_count");
  const merkleRoot = assertBytes(f.merkleRoot, 32, "merkle_root");
  const prev = assertBytes(f.prevStateRoot, 32, "prev_state_root");
  const next = assertBytes(f.newStateRoot, 32, "new_state_root");
  const d = DOMAIN_CHECKPOINT.length;
  const pre = new Uint8Array(CHECKPOINT_PREIMAGE_BYTES);
  const view = new DataView(pre.buffer);
  pre.set(DOMAIN_CHECKPOINT, 0);
  writeUuid(pre, d, tenantId);
  writeUuid(pre, d + 16, storeId);
  view.setBigUint64(d + 32, start, false);
  view.setBigUint64(d + 40, end, false);
  view.setUint32(d + 48, leafCount, false);
  pre.set(merkleRoot, d + 52);
  pre.set(prev, d + 84);
  pre.set(next, d + 116);
  return pre;
}

/** checkpoint_hash = H(checkpointPreimage(f)); the Ed25519 message of the checkpoint signature. */
export function checkpointHash(sha256: Sha256, f: CheckpointFields): Uint8Array {
  return sha256(checkpointPreimage(f));
}
