// Checks a stream's commitments against the events table: one chain from sequence 1 to `head`, each range once,
// every Merkle root and state root recomputed from the events and the predecessor, every checkpoint signed.
import type postgres from "postgres";
import { expect } from "vitest";
import { verifyCheckpointSignature } from "../../src/client/verifyCheckpointSignature.js";
import { bytesToHex } from "../../src/crypto/bytes.js";
import { nativeSha256, sodiumEd25519 } from "../../src/crypto/native.js";
import { buildCommitment, type ChainTip } from "../../src/domain/buildCommitment.js";
import type { StreamKey } from "../../src/domain/event.js";

export async function expectValidChain(
  sql: postgres.Sql,
  stream: StreamKey,
  head: bigint,
  sequencerKey: Uint8Array,
): Promise<number> {
  const commitments = await sql<
    {
      sequence_start: string;
      sequence_end: string;
      leaf_count: number;
      merkle_root: Uint8Array;
      prev_state_root: Uint8Array;
      new_state_root: Uint8Array;
      checkpoint_hash: Uint8Array;
      signature: Uint8Array;
    }[]
  >`
    select c.sequence_start::text as sequence_start, c.sequence_end::text as sequence_end, c.leaf_count,
           c.merkle_root, c.prev_state_root, c.new_state_root, c.checkpoint_hash, c.signature
    from commitments c where c.tenant_id = ${stream.tenantId} and c.store_id = ${stream.storeId}
    order by c.sequence_start`;
  const events = await sql<{ seq: string; event_signing_hash: Uint8Array; agent_signature: Uint8Array }[]>`
    select sequence_number::text as seq, event_signing_hash, agent_signature from events
    where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId} order by sequence_number`;
  let tip: ChainTip | undefined;
  for (const row of commitments) {
    const start = BigInt(row.sequence_start);
    const end = BigInt(row.sequence_end);
    expect(start, "each commitment starts right after the previous one").toBe((tip?.sequenceEnd ?? 0n) + 1n);
    const leaves = events
      .filter((e) => BigInt(e.seq) >= start && BigInt(e.seq) <= end)
      .map((e) => ({
        sequenceNumber: BigInt(e.seq),
        eventSigningHash: e.event_signing_hash,
        agentSignature: e.agent_signature,
      }));
    const again = buildCommitment(nativeSha256, stream, tip, leaves);
    expect(again.sequenceEnd).toBe(end);
    expect(bytesToHex(row.merkle_root)).toBe(bytesToHex(again.merkleRoot));
    expect(bytesToHex(row.prev_state_root)).toBe(bytesToHex(again.prevStateRoot));
    expect(bytesToHex(row.new_state_root)).toBe(bytesToHex(again.newStateRoot));
    const checkpoint = {
      ...stream,
      sequenceStart: start,
      sequenceEnd: end,
      leafCount: row.leaf_count,
      merkleRoot: row.merkle_root,
      prevStateRoot: row.prev_state_root,
      newStateRoot: row.new_state_root,
      checkpointHash: row.checkpoint_hash,
      signature: row.signature,
    };
    expect(
      verifyCheckpointSignature(checkpoint, sequencerKey, { sha256: nativeSha256, ed25519: sodiumEd25519 }),
    ).toEqual({
      valid: true,
    });
    tip = { sequenceEnd: end, newStateRoot: again.newStateRoot };
  }
  expect(tip?.sequenceEnd ?? 0n, "the chain reaches the head").toBe(head);
  return commitments.length;
}
