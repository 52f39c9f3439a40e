// Sequencer receipt hash; the sequencer signs these 32 bytes directly (docs/protocol.md §2.4).
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

/** Length of the receipt-hash preimage: 14 + 3 × 16 + 8 + 32. */
export const RECEIPT_PREIMAGE_BYTES: number = DOMAIN_RECEIPT.length + 48 + 8 + 32;

/**
 * Writes the receipt-hash preimage at `offset` without re-validating the fields (callers validated them at
 * the edge). `receiptHash` is the checked entry point.
 */
export function writeReceiptPreimage(out: Uint8Array, offset: number, f: ReceiptFields): void {
  const d = DOMAIN_RECEIPT.length;
  out.set(DOMAIN_RECEIPT, offset);
  writeUuid(out, offset + d, f.tenantId);
  writeUuid(out, offset + d + 16, f.storeId);
  writeUuid(out, offset + d + 32, f.eventId);
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(
    offset + d + 48,
    f.sequenceNumber,
    false,
  );
  out.set(f.eventSigningHash, offset + d + 56);
}

/**
 * receipt_hash = H("VES_RECEIPT_V1" ‖ UUID(tenant) ‖ UUID(store) ‖ UUID(event) ‖ U64(sequence_number) ‖
 * event_signing_hash), a 102-byte preimage. sequencer_id, sequenced_at and the key version are not covered.
 */
export function receiptHash(sha256: Sha256, f: ReceiptFields): Uint8Array {
  const fields: ReceiptFields = {
    tenantId: assertUuid(f.tenantId, "tenant_id"),
    storeId: assertUuid(f.storeId, "store_id"),
    eventId: assertUuid(f.eventId, "event_id"),
    sequenceNumber: assertU64(f.sequenceNumber, "sequence_number"),
    eventSigningHash: assertBytes(f.eventSigningHash, 32, "event_signing_hash"),
  };
  const pre = new Uint8Array(RECEIPT_PREIMAGE_BYTES);
  writeReceiptPreimage(pre, 0, fields);
  return sha256(pre);
}
