// VES-ENC-1 payload AAD, recipients hash and cipher hash, as upstream computes them (docs/protocol.md §2.2).
import { assertBytes, assertU32, assertUuid, encStrLength, writeEncStr, writeUuid } from "./bytes.js";
import { DOMAIN_PAYLOAD_AAD, DOMAIN_PAYLOAD_CIPHER, DOMAIN_RECIPIENTS } from "./domains.js";
import type { Sha256 } from "./sha256.js";

export interface PayloadAadFields {
  readonly tenantId: string;
  readonly storeId: string;
  readonly eventId: string;
  readonly sourceAgentId: string;
  readonly agentKeyId: number;
  readonly entityType: string;
  readonly entityId: string;
  readonly eventType: string;
  readonly createdAt: string;
  readonly payloadPlainHash: Uint8Array;
}

export interface RecipientEntry {
  readonly recipientKid: number;
  /** HPKE encapsulated key (base64url-decoded). */
  readonly enc: Uint8Array;
  /** HPKE-wrapped data key (base64url-decoded). */
  readonly ct: Uint8Array;
}

export interface PayloadCipherFields {
  readonly nonce: Uint8Array;
  readonly payloadAad: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
  readonly recipientsHash: Uint8Array;
}

/**
 * payload_aad = H("VES_PAYLOAD_AAD_V1" ‖ UUID(tenant) ‖ UUID(store) ‖ UUID(event) ‖ UUID(source_agent) ‖
 * U32(agent_key_id) ‖ ENC_STR(entity_type) ‖ ENC_STR(entity_id) ‖ ENC_STR(event_type) ‖ ENC_STR(created_at) ‖
 * payload_plain_hash). No ves_version field: the code has none, whatever VES_SPEC §5A.2 says.
 */
export function payloadAad(sha256: Sha256, f: PayloadAadFields): Uint8Array {
  const tenantId = assertUuid(f.tenantId, "tenant_id");
  const storeId = assertUuid(f.storeId, "store_id");
  const eventId = assertUuid(f.eventId, "event_id");
  const sourceAgentId = assertUuid(f.sourceAgentId, "source_agent_id");
  const agentKeyId = assertU32(f.agentKeyId, "agent_key_id");
  const plainHash = assertBytes(f.payloadPlainHash, 32, "payload_plain_hash");
  const length =
    DOMAIN_PAYLOAD_AAD.length +
    64 +
    4 +
    encStrLength(f.entityType, "entity_type") +
    encStrLength(f.entityId, "entity_id") +
    encStrLength(f.eventType, "event_type") +
    encStrLength(f.createdAt, "created_at") +
    32;
  const pre = new Uint8Array(length);
  pre.set(DOMAIN_PAYLOAD_AAD, 0);
  let o = DOMAIN_PAYLOAD_AAD.length;
  writeUuid(pre, o, tenantId);
  writeUuid(pre, o + 16, storeId);
  writeUuid(pre, o + 32, eventId);
  writeUuid(pre, o + 48, sourceAgentId);
  o += 64;
  new DataView(pre.buffer).setUint32(o, agentKeyId, false);
  o += 4;
  o = writeEncStr(pre, o, f.entityType);
  o = writeEncStr(pre, o, f.entityId);
  o = writeEncStr(pre, o, f.eventType);
  o = writeEncStr(pre, o, f.createdAt);
  pre.set(plainHash, o);
  return sha256(pre);
}

/**
 * recipients_hash = H("VES_RECIPIENTS_V1" ‖ Σ [U32(kid) ‖ U32(len(enc)) ‖ enc ‖ U32(len(ct)) ‖ ct]) in array
 * order. Ordering (strictly ascending kid) and sizes (32/48) are the validator's job, not the hash's.
 */
export function recipientsHash(sha256: Sha256, recipients: readonly RecipientEntry[]): Uint8Array {
  if (!Array.isArray(recipients))
    throw new TypeError(`"recipients" expected an array, got ${typeof recipients}`);
  let length = DOMAIN_RECIPIENTS.length;
  for (let i = 0; i < recipients.length; i++) {
    const r = recipients[i] as RecipientEntry;
    assertU32(r.recipientKid, `recipients[${i}].recipient_kid`);
    length += 12 + assertBytes(r.enc, undefined, `recipients[${i}].enc`).length;
    length += assertBytes(r.ct, undefined, `recipients[${i}].ct`).length;
  }
  const pre = new Uint8Array(length);
  const view = new DataView(pre.buffer);
  pre.set(DOMAIN_RECIPIENTS, 0);
  let o = DOMAIN_RECIPIENTS.length;
  for (const r of recipients) {
    view.setUint32(o, r.recipientKid, false);
    view.setUint32(o + 4, r.enc.length, false);
    pre.set(r.enc, o + 8);
    o += 8 + r.enc.length;
    view.setUint32(o, r.ct.length, false);
    pre.set(r.ct, o + 4);
    o += 4 + r.ct.length;
  }
  return sha256(pre);
}

/**
 * payload_cipher_hash = H("VES_PAYLOAD_CIPHER_V1" ‖ U32(1) ‖ nonce12 ‖ payload_aad32 ‖ U32(len(ct)) ‖ ct ‖
 * tag16 ‖ recipients_hash32). The U32(1) is a constant in upstream code, not enc_version.
 */
export function payloadCipherHash(sha256: Sha256, f: PayloadCipherFields): Uint8Array {
  const nonce = assertBytes(f.nonce, 12, "nonce");
  const aad = assertBytes(f.payloadAad, 32, "payload_aad");
  const ct = assertBytes(f.ciphertext, undefined, "ciphertext");
  const tag = assertBytes(f.tag, 16, "tag");
  const rh = assertBytes(f.recipientsHash, 32, "recipients_hash");
  const d = DOMAIN_PAYLOAD_CIPHER.length;
  const pre = new Uint8Array(d + 4 + 12 + 32 + 4 + ct.length + 16 + 32);
  const view = new DataView(pre.buffer);
  pre.set(DOMAIN_PAYLOAD_CIPHER, 0);
  view.setUint32(d, 1, false);
  pre.set(nonce, d + 4);
  pre.set(aad, d + 16);
  view.setUint32(d + 48, ct.length, false);
  pre.set(ct, d + 52);
  let o = d + 52 + ct.length;
  pre.set(tag, o);
  o += 16;
  pre.set(rh, o);
  return sha256(pre);
}
