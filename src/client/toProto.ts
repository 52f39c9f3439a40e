// Agent SDK: signed events as protobuf messages for the SequencerService API.
import { create } from "@bufbuild/protobuf";
import { type Event, EventSchema, PayloadKind } from "../../gen/ves/sequencer/v1/event_pb.js";
import { type EncryptedPayloadParts, VES_ENC_1_HPKE } from "./encryptPayload.js";
import type { SignedEvent } from "./signEvent.js";

export function signedEventToProto(e: SignedEvent): Event {
  if (e.payloadEncrypted !== undefined) {
    return create(EventSchema, {
      ...plainFields(e),
      payloadEncrypted: {
        ...e.payloadEncrypted,
        hpke: { ...e.payloadEncrypted.hpke },
        recipients: e.payloadEncrypted.recipients.map((r) => ({ ...r })),
      },
    });
  }
  // Every field of the message given, so no create(): this runs once per event on the producer's hot path.
  return { $typeName: "ves.sequencer.v1.Event", ...plainFields(e), payloadEncrypted: undefined };
}

function plainFields(e: SignedEvent): Omit<Event, "$typeName" | "payloadEncrypted"> {
  return {
    vesVersion: e.vesVersion,
    eventId: e.eventId,
    tenantId: e.tenantId,
    storeId: e.storeId,
    sourceAgentId: e.sourceAgentId,
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt,
    payloadKind: e.payloadKind === 1 ? PayloadKind.ENCRYPTED : PayloadKind.PLAINTEXT,
    payload: e.payload,
    payloadPlainHash: e.payloadPlainHash,
    payloadCipherHash: e.payloadCipherHash,
    agentSignature: e.agentSignature,
    agentSignatureScheme: 1,
    commandId: e.commandId,
    baseVersion: e.baseVersion,
  };
}

/** The SignedEvent of a protobuf Event (e.g. kept in an outbox) and the signing hash computed when it was signed. */
export function signedEventFromProto(e: Event, signingHash: Uint8Array): SignedEvent {
  const p = e.payloadEncrypted;
  const payloadEncrypted: EncryptedPayloadParts | undefined =
    p === undefined
      ? undefined
      : {
          encVersion: 1,
          aead: "AES-256-GCM",
          nonce: p.nonce,
          ciphertext: p.ciphertext,
          tag: p.tag,
          hpke: VES_ENC_1_HPKE,
          recipients: p.recipients.map((r) => ({ recipientKid: r.recipientKid, enc: r.enc, ct: r.ct })),
        };
  return {
    vesVersion: 1,
    eventId: e.eventId,
    tenantId: e.tenantId,
    storeId: e.storeId,
    sourceAgentId: e.sourceAgentId,
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt,
    payloadKind: e.payloadKind === PayloadKind.ENCRYPTED ? 1 : 0,
    payload: e.payload,
    payloadEncrypted,
    payloadPlainHash: e.payloadPlainHash,
    payloadCipherHash: e.payloadCipherHash,
    signingHash,
    agentSignature: e.agentSignature,
    commandId: e.commandId,
    baseVersion: e.baseVersion,
  };
}
