// VES-SIG-1 event signing preimage and hash; the agent signs the 32-byte hash itself (docs/protocol.md §2.3).
import { assertBytes, assertU32, assertUuid, encStrLength, writeEncStr, writeUuid } from "./bytes.js";
import { DOMAIN_EVENTSIG } from "./domains.js";
import type { Sha256 } from "./sha256.js";

/** Every field the agent signature covers. `createdAt` is the exact signed string. */
export interface SignedEventFields {
  vesVersion: number;
  tenantId: string;
  storeId: string;
  eventId: string;
  sourceAgentId: string;
  agentKeyId: number;
  entityType: string;
  entityId: string;
  eventType: string;
  createdAt: string;
  payloadKind: 0 | 1;
  payloadPlainHash: Uint8Array;
  payloadCipherHash: Uint8Array;
}

/**
 * "VES_EVENTSIG_V1" ‖ U32(ves_version) ‖ UUID(tenant) ‖ UUID(store) ‖ UUID(event) ‖ UUID(source_agent) ‖
 * U32(agent_key_id) ‖ ENC_STR(entity_type) ‖ ENC_STR(entity_id) ‖ ENC_STR(event_type) ‖ ENC_STR(created_at) ‖
 * U32(payload_kind) ‖ payload_plain_hash ‖ payload_cipher_hash: 171 bytes plus the four strings' UTF-8 bytes.
 */
export function eventSigningPreimage(f: SignedEventFields): Uint8Array {
  const vesVersion = assertU32(f.vesVersion, "ves_version");
  const tenantId = assertUuid(f.tenantId, "tenant_id");
  const storeId = assertUuid(f.storeId, "store_id");
  const eventId = assertUuid(f.eventId, "event_id");
  const sourceAgentId = assertUuid(f.sourceAgentId, "source_agent_id");
  const agentKeyId = assertU32(f.agentKeyId, "agent_key_id");
  if (f.payloadKind !== 0 && f.payloadKind !== 1) {
    throw new RangeError(
      `"payload_kind" expected 0 (plaintext) or 1 (encrypted), got ${String(f.payloadKind)}`,
    );
  }
  const plainHash = assertBytes(f.payloadPlainHash, 32, "payload_plain_hash");
  const cipherHash = assertBytes(f.payloadCipherHash, 32, "payload_cipher_hash");
  const d = DOMAIN_EVENTSIG.length;
  const length =
    d +
    4 +
    64 +
    4 +
    encStrLength(f.entityType, "entity_type") +
    encStrLength(f.entityId, "entity_id") +
    encStrLength(f.eventType, "event_type") +
    encStrLength(f.createdAt, "created_at") +
    4 +
    64;
  const pre = new Uint8Array(length);
  const view = new DataView(pre.buffer);
  pre.set(DOMAIN_EVENTSIG, 0);
  view.setUint32(d, vesVersion, false);
  writeUuid(pre, d + 4, tenantId);
  writeUuid(pre, d + 20, storeId);
  writeUuid(pre, d + 36, eventId);
  writeUuid(pre, d + 52, sourceAgentId);
  view.setUint32(d + 68, agentKeyId, false);
  let o = d + 72;
  o = writeEncStr(pre, o, f.entityType);
  o = writeEncStr(pre, o, f.entityId);
  o = writeEncStr(pre, o, f.eventType);
  o = writeEncStr(pre, o, f.createdAt);
  view.setUint32(o, f.payloadKind, false);
  pre.set(plainHash, o + 4);
  pre.set(cipherHash, o + 36);
  return pre;
}

/** event_signing_hash = H(eventSigningPreimage(f)). */
export function eventSigningHash(sha256: Sha256, f: SignedEventFields): Uint8Array {
  return sha256(eventSigningPreimage(f));
}
