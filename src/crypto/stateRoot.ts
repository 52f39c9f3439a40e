// Stream id and the chained state root of commitments (docs/protocol.md §2.6).
import { assertBytes, assertU32, assertU64, assertUuid, writeUuid } from "./bytes.js";
import { DOMAIN_STATE_ROOT, DOMAIN_STREAM } from "./domains.js";
import type { Sha256 } from "./sha256.js";

export interface StateRootFields {
  readonly streamId: Uint8Array;
  /** The previous commitment's new_state_root, or 32 zero bytes for a stream's first commitment. */
  readonly prevStateRoot: Uint8Array;
  readonly merkleRoot: Uint8Array;
  readonly sequenceStart: bigint;
  readonly sequenceEnd: bigint;
  readonly leafCount: number;
}

/** stream_id = H("VES_STREAM_V1" ‖ UUID(tenant) ‖ UUID(store)). */
export function streamId(sha256: Sha256, tenantId: string, storeId: string): Uint8Array {
  assertUuid(tenantId, "tenant_id");
  assertUuid(storeId, "store_id");
  const d = DOMAIN_STREAM.length;
  const pre = new Uint8Array(d + 32);
  pre.set(DOMAIN_STREAM, 0);
  writeUuid(pre, d, tenantId);
  writeUuid(pre, d + 16, storeId);
  return sha256(pre);
}

/**
 * new_state_root = H("VES_STATE_ROOT_V1" ‖ stream_id ‖ prev_state_root ‖ merkle_root ‖ U64(start) ‖ U64(end) ‖
 * U32(leaf_count)), a 133-byte preimage. Range consistency is the caller's rule, not the hash's.
 */
export function nextStateRoot(sha256: Sha256, f: StateRootFields): Uint8Array {
  const sid = assertBytes(f.streamId, 32, "stream_id");
  const prev = assertBytes(f.prevStateRoot, 32, "prev_state_root");
  const root = assertBytes(f.merkleRoot, 32, "merkle_root");
  const start = assertU64(f.sequenceStart, "sequence_start");
  const end = assertU64(f.sequenceEnd, "sequence_end");
  const leafCount = assertU32(f.leafCount, "leaf_count");
  const d = DOMAIN_STATE_ROOT.length;
  const pre = new Uint8Array(d + 96 + 8 + 8 + 4);
  const view = new DataView(pre.buffer);
  pre.set(DOMAIN_STATE_ROOT, 0);
  pre.set(sid, d);
  pre.set(prev, d + 32);
  pre.set(root, d + 64);
  view.setBigUint64(d + 96, start, false);
  view.setBigUint64(d + 104, end, false);
  view.setUint32(d + 112, leafCount, false);
  return sha256(pre);
}
