// Conversions between rows of the events table and domain values.
import type { EncryptedPayloadInput, Receipt } from "../../domain/event.js";

/** The columns of `events`, as postgres.js returns them (bytea as Buffer, int8 as bigint). */
export interface EventRow {
  tenant_id: string;
  store_id: string;
  sequence_number: bigint;
  event_id: string;
  ves_version: number;
  source_agent_id: string;
  agent_key_id: bigint;
  entity_type: string;
  entity_id: string;
  event_type: string;
  created_at: string;
  payload_kind: number;
  payload: Uint8Array | null;
  payload_encrypted: EncryptedJson | null;
  payload_plain_hash: Uint8Array;
  payload_cipher_hash: Uint8Array;
  event_signing_hash: Uint8Array;
  agent_signature: Uint8Array;
  agent_signature_scheme: number;
  command_id: string | null;
  base_version: bigint | null;
  entity_version: bigint;
  sequenced_at: Date;
  sequencer_id: string;
  sequencer_key_id: string;
  receipt_hash: Uint8Array;
  sequencer_signature: Uint8Array;
}

/** The VES-ENC-1 JSON form of an encrypted payload (docs/protocol.md §5). */
export interface EncryptedJson {
  enc_version: number;
  aead: string;
  nonce_b64u: string;
  ciphertext_b64u: string;
  tag_b64u: string;
  hpke: { mode: string; kem: string; kdf: string; aead: string };
  recipients: { recipient_kid: number; enc_b64u: string; ct_b64u: string }[];
}

const b64u = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
const fromB64u = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64url"));

export function encryptedToJson(p: EncryptedPayloadInput): EncryptedJson {
  return {
    enc_version: p.encVersion === 0 ? 1 : p.encVersion,
    aead: p.aead,
    nonce_b64u: b64u(p.nonce),
    ciphertext_b64u: b64u(p.ciphertext),
    tag_b64u: b64u(p.tag),
    hpke: { mode: p.hpke.mode, kem: p.hpke.kem, kdf: p.hpke.kdf, aead: p.hpke.aead },
    recipients: p.recipients.map((r) => ({
      recipient_kid: r.recipientKid,
      enc_b64u: b64u(r.enc),
      ct_b64u: b64u(r.ct),
    })),
  };
}

export function encryptedFromJson(j: EncryptedJson): EncryptedPayloadInput {
  return {
    encVersion: j.enc_version,
    aead: j.aead,
    nonce: fromB64u(j.nonce_b64u),
    ciphertext: fromB64u(j.ciphertext_b64u),
    tag: fromB64u(j.tag_b64u),
    hpke: j.hpke,
    recipients: j.recipients.map((r) => ({
      recipientKid: r.recipient_kid,
      enc: fromB64u(r.enc_b64u),
      ct: fromB64u(r.ct_b64u),
    })),
  };
}

export function receiptFromRow(r: EventRow): Receipt {
  return {
    sequencerId: r.sequencer_id,
    sequencerKeyId: r.sequencer_key_id,
    tenantId: r.tenant_id,
    storeId: r.store_id,
    eventId: r.event_id,
    sequenceNumber: r.sequence_number,
    sequencedAt: r.sequenced_at,
    eventSigningHash: r.event_signing_hash,
    receiptHash: r.receipt_hash,
    sequencerSignature: r.sequencer_signature,
  };
}
