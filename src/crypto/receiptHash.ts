// Sequencer receipt hash; the sequencer signs these 32 bytes directly (ves-protocol.md §2.4).
import { assertBytes, assertU64, assertUuid, writeUuid } from "./bytes.js";
import { DOMAIN_RECEIPT } from "./domains.js";
import type { Sha256 } from "./sha256.js";

export interface ReceiptFields {
  readonly tenantId: string;
  readonly storeId: string;
  readonly eventId: string;
  readonly sequenceNumber: bigint;
  readonly eventSigningHash: Uint8Array;
}

/**
 * receipt_hash = H("VES_RECEIPT_V1" ‖ UUID(tenant) ‖ UUID(store) ‖ UUID(event) ‖ U64(sequence_number) ‖
 * event_signing_hash), a 102-byte preimage. sequencer_id, sequenced_at and the key version are not covered.
 */
export function receiptHash(sha256: Sha256, f: ReceiptFields): Uint8Array {
  const tenantId = assertUuid(f.tenantId, "tenant_id");
  const storeId = assertUuid(f.storeId, "store_id");
  const eventId = assertUuid(f.eventId, "event_id");
  const seq = assertU64(f.sequenceNumber, "sequence_number");
  const signingHash = assertBytes(f.eventSigningHash, 32, "event_signing_hash");
  const d = DOMAIN_RECEIPT.length;
  const pre = new Uint8Array(d + 48 + 8 + 32);
  pre.set(DOMAIN_RECEIPT, 0);
  writeUuid(pre, d, tenantId);
  writeUuid(pre, d + 16, storeId);
  writeUuid(pre, d + 32, eventId);
  new DataView(pre.buffer).setBigUint64(d + 48, seq, false);
  pre.set(signingHash, d + 56);
  return sha256(pre);
}
