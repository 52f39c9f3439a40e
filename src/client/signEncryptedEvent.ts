// Agent SDK: build and sign a VES-ENC-1 encrypted event (ves-protocol.md §2.2, §2.3, §5): the payload is
// encrypted for the recipients, and the signature covers payload_kind 1 and both payload hashes.
import { v7 as uuidv7 } from "uuid";
import { eventSigningHash } from "../crypto/eventSigningHash.js";
import { formatCreatedAt } from "./createdAt.js";
import { type EncryptPayloadOptions, encryptPayload, type PayloadRecipient } from "./encryptPayload.js";
import {
  type AgentSigner,
  portableCrypto,
  type SignedEvent,
  type SigningCrypto,
  type UnsignedEvent,
} from "./signEvent.js";

export async function signEncryptedEvent(
  e: UnsignedEvent,
  recipients: readonly PayloadRecipient[],
  signer: AgentSigner,
  crypto: SigningCrypto = portableCrypto,
  opts: Omit<EncryptPayloadOptions, "sha256"> = {},
): Promise<SignedEvent> {
  const ctx = {
    tenantId: e.tenantId.toLowerCase(),
    storeId: e.storeId.toLowerCase(),
    eventId: (e.eventId ?? uuidv7()).toLowerCase(),
    sourceAgentId: e.sourceAgentId.toLowerCase(),
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt ?? formatCreatedAt(new Date()),
  };
  const enc = await encryptPayload(ctx, e.payload, recipients, { ...opts, sha256: crypto.sha256 });
  const signingHash = eventSigningHash(crypto.sha256, {
    vesVersion: 1,
    ...ctx,
    payloadKind: 1,
    payloadPlainHash: enc.payloadPlainHash,
    payloadCipherHash: enc.payloadCipherHash,
  });
  return {
    vesVersion: 1,
    ...ctx,
    payloadKind: 1,
    payload: new Uint8Array(0),
    payloadEncrypted: enc.payloadEncrypted,
    payloadPlainHash: enc.payloadPlainHash,
    payloadCipherHash: enc.payloadCipherHash,
    signingHash,
    agentSignature: signer.sign(signingHash),
    commandId: e.commandId,
    baseVersion: e.baseVersion,
  };
}
