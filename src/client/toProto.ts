// Agent SDK: signed events as protobuf messages for the SequencerService API.
import { create } from "@bufbuild/protobuf";
import { type Event, EventSchema, PayloadKind } from "../../gen/ves/sequencer/v1/event_pb.js";
import type { SignedEvent } from "./signEvent.js";

export function signedEventToProto(e: SignedEvent): Event {
  return create(EventSchema, {
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
    payloadKind: PayloadKind.PLAINTEXT,
    payload: e.payload,
    payloadPlainHash: e.payloadPlainHash,
    payloadCipherHash: e.payloadCipherHash,
    agentSignature: e.agentSignature,
    agentSignatureScheme: 1,
    commandId: e.commandId,
    baseVersion: e.baseVersion,
  });
}
