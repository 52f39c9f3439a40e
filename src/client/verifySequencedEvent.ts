// Agent SDK: re-verify an event read back from the sequencer (PullEvents, GetEntityHistory, Subscribe) without
// trusting the server: payload hash (docs/protocol.md §2.2), agent signature over the signing hash (§2.3), and
// the sequencer's receipt for exactly that event (§2.4). Pure; browser-safe by default.
import type { SequencedEvent } from "../../gen/ves/sequencer/v1/event_pb.js";
import { PayloadKind } from "../../gen/ves/sequencer/v1/event_pb.js";
import { equalBytes, ZERO32 } from "../crypto/bytes.js";
import { canonicalJson, parseJsonPayload } from "../crypto/canonicalJson.js";
import { type Ed25519, nobleEd25519 } from "../crypto/ed25519.js";
import { payloadAad, payloadCipherHash, recipientsHash } from "../crypto/encryptedPayload.js";
import { eventSigningHash } from "../crypto/eventSigningHash.js";
import { payloadPlainHashFromCanonical } from "../crypto/payloadHash.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import { verifyReceipt } from "./verifyReceipt.js";

export type EventVerdict =
  | { readonly valid: true; readonly signingHash: Uint8Array }
  | {
      readonly valid: false;
      readonly reason:
        | "incomplete"
        | "payload_hash_mismatch"
        | "cipher_hash_mismatch"
        | "bad_agent_signature"
        | "receipt_mismatch"
        | "bad_receipt";
    };

export interface VerifySequencedEventOptions {
  /** The source agent's Ed25519 public key for (tenant, source_agent_id, agent_key_id), from the key registry. */
  readonly agentPublicKey: Uint8Array;
  /** The public key of the receipt's sequencer_key_id (GetSequencerInfo lists them). */
  readonly sequencerPublicKey: Uint8Array;
  readonly sha256?: Sha256;
  readonly ed25519?: Ed25519;
}

/**
 * Checks one delivered event end to end. Returns a verdict for a well-formed event that does not verify; throws
 * only for malformed fields (wrong lengths, bad UUIDs, non-JSON plaintext).
 */
export function verifySequencedEvent(se: SequencedEvent, opts: VerifySequencedEventOptions): EventVerdict {
  const sha256 = opts.sha256 ?? nobleSha256;
  const ed25519 = opts.ed25519 ?? nobleEd25519;
  const e = se.event;
  const r = se.receipt;
  if (e === undefined || r === undefined) return { valid: false, reason: "incomplete" };
  const payloadKind = e.payloadKind === PayloadKind.ENCRYPTED ? 1 : 0;
  if (payloadKind === 0) {
    const canonical = canonicalJson(parseJsonPayload(e.payload));
    if (!equalBytes(payloadPlainHashFromCanonical(sha256, canonical), e.payloadPlainHash)) {
      return { valid: false, reason: "payload_hash_mismatch" };
    }
    if (!equalBytes(e.payloadCipherHash, ZERO32)) return { valid: false, reason: "cipher_hash_mismatch" };
  } else {
    const p = e.payloadEncrypted;
    if (p === undefined) return { valid: false, reason: "incomplete" };
    const aad = payloadAad(sha256, e);
    const cipherHash = payloadCipherHash(sha256, {
      nonce: p.nonce,
      payloadAad: aad,
      ciphertext: p.ciphertext,
      tag: p.tag,
      recipientsHash: recipientsHash(sha256, p.recipients),
    });
    if (!equalBytes(cipherHash, e.payloadCipherHash)) return { valid: false, reason: "cipher_hash_mismatch" };
  }
  const signingHash = eventSigningHash(sha256, {
    vesVersion: e.vesVersion === 0 ? 1 : e.vesVersion,
    tenantId: e.tenantId,
    storeId: e.storeId,
    eventId: e.eventId,
    sourceAgentId: e.sourceAgentId,
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt,
    payloadKind,
    payloadPlainHash: e.payloadPlainHash,
    payloadCipherHash: e.payloadCipherHash,
  });
  if (!ed25519.verify(e.agentSignature, signingHash, opts.agentPublicKey)) {
    return { valid: false, reason: "bad_agent_signature" };
  }
  if (r.tenantId !== e.tenantId || r.storeId !== e.storeId || r.eventId !== e.eventId) {
    return { valid: false, reason: "receipt_mismatch" };
  }
  const receipt = verifyReceipt(r, opts.sequencerPublicKey, {
    expectedSigningHash: signingHash,
    sha256,
    ed25519,
  });
  if (!receipt.valid) {
    return {
      valid: false,
      reason: receipt.reason === "signing_hash_mismatch" ? "receipt_mismatch" : "bad_receipt",
    };
  }
  return { valid: true, signingHash };
}
