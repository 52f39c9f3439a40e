// VES v1.0 domain separators: raw ASCII bytes, no terminator (docs/protocol.md §2.1).

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** "VES_PAYLOAD_PLAIN_V1" (20 bytes): payload_plain_hash. */
export const DOMAIN_PAYLOAD_PLAIN: Uint8Array = ascii("VES_PAYLOAD_PLAIN_V1");
/** "VES_PAYLOAD_AAD_V1" (18 bytes): payload_aad of an encrypted payload. */
export const DOMAIN_PAYLOAD_AAD: Uint8Array = ascii("VES_PAYLOAD_AAD_V1");
/** "VES_PAYLOAD_CIPHER_V1" (21 bytes; upstream docs say 22): payload_cipher_hash. */
export const DOMAIN_PAYLOAD_CIPHER: Uint8Array = ascii("VES_PAYLOAD_CIPHER_V1");
/** "VES_RECIPIENTS_V1" (17 bytes; upstream docs say 16): recipients_hash. */
export const DOMAIN_RECIPIENTS: Uint8Array = ascii("VES_RECIPIENTS_V1");
/** "VES_EVENTSIG_V1" (15 bytes): event_signing_hash. */
export const DOMAIN_EVENTSIG: Uint8Array = ascii("VES_EVENTSIG_V1");
/** "VES_LEAF_V1" (11 bytes): Merkle leaf. */
export const DOMAIN_LEAF: Uint8Array = ascii("VES_LEAF_V1");
/** "VES_PAD_LEAF_V1" (15 bytes): PAD_LEAF = H(DOMAIN_PAD_LEAF). */
export const DOMAIN_PAD_LEAF: Uint8Array = ascii("VES_PAD_LEAF_V1");
/** "VES_NODE_V1" (11 bytes): Merkle interior node. */
export const DOMAIN_NODE: Uint8Array = ascii("VES_NODE_V1");
/** "VES_STREAM_V1" (13 bytes): stream_id. */
export const DOMAIN_STREAM: Uint8Array = ascii("VES_STREAM_V1");
/** "VES_RECEIPT_V1" (14 bytes): sequencer receipt hash. */
export const DOMAIN_RECEIPT: Uint8Array = ascii("VES_RECEIPT_V1");
/** "VES_STATE_ROOT_V1" (17 bytes; the yellowpaper says 18): chained state root. */
export const DOMAIN_STATE_ROOT: Uint8Array = ascii("VES_STATE_ROOT_V1");
/** "STATESET_VES_VALIDITY_PROOF_HASH_V1" (35 bytes): validity proof_hash. */
export const DOMAIN_VALIDITY_PROOF_HASH: Uint8Array = ascii("STATESET_VES_VALIDITY_PROOF_HASH_V1");
/** "STATESET_VES_COMPLIANCE_PROOF_HASH_V1" (37 bytes): compliance proof_hash. */
export const DOMAIN_COMPLIANCE_PROOF_HASH: Uint8Array = ascii("STATESET_VES_COMPLIANCE_PROOF_HASH_V1");
/** "STATESET_VES_COMPLIANCE_POLICY_HASH_V1" (38 bytes): policy_hash. */
export const DOMAIN_COMPLIANCE_POLICY_HASH: Uint8Array = ascii("STATESET_VES_COMPLIANCE_POLICY_HASH_V1");
/** "VES_POP_V1" (10 bytes): key proof-of-possession challenge. */
export const DOMAIN_POP: Uint8Array = ascii("VES_POP_V1");
