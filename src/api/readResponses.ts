// Responses of the read API. Events go out as bytes from eventEncoding (encoded once, shared by every subscriber
// of a stream) for binary codecs; JSON clients get ordinary messages, since JSON has no place for raw fields.
import type { SequencedEvent } from "../../gen/ves/sequencer/v1/event_pb.js";
import type {
  GetEntityHistoryResponse,
  PullEventsResponse,
  SubscriptionEvents,
  SubscriptionHeartbeat,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { EntityHistory } from "../app/getEntityHistory.js";
import type { PullEventsResult } from "../app/pullEvents.js";
import type { StoredEvent } from "../domain/event.js";
import { sequencedEventToProto } from "./convert.js";
import { eventsAsUnknownFields } from "./eventEncoding.js";

/** True unless the request uses a JSON codec (Connect or gRPC-Web with +json, or application/json). */
export function isBinaryCodec(requestHeader: Headers): boolean {
  return !(requestHeader.get("content-type") ?? "").includes("json");
}

/** `repeated SequencedEvent events = 1` of a response: typed for JSON, pre-encoded bytes otherwise. */
function eventsField(
  events: readonly StoredEvent[],
  binary: boolean,
): { events: SequencedEvent[]; $unknown?: ReturnType<typeof eventsAsUnknownFields> } {
  return binary
    ? { events: [], $unknown: eventsAsUnknownFields(1, events, false) }
    : { events: events.map(sequencedEventToProto) };
}

export function pullEventsResponse(r: PullEventsResult, binary: boolean): PullEventsResponse {
  return {
    $typeName: "ves.sequencer.v1.PullEventsResponse",
    ...eventsField(r.events, binary),
    nextSequence: r.nextSequence,
    hasMore: r.hasMore,
    headSequence: r.head,
  };
}

export function entityHistoryResponse(h: EntityHistory, binary: boolean): GetEntityHistoryResponse {
  return {
    $typeName: "ves.sequencer.v1.GetEntityHistoryResponse",
    ...eventsField(h.events, binary),
    currentVersion: h.currentVersion,
    nextVersion: h.nextVersion,
    hasMore: h.hasMore,
  };
}

/** Typed SubscriptionEvents, for JSON clients (binary clients get subscriptionEventsField's bytes). */
export function subscriptionEvents(events: readonly StoredEvent[], nextSequence: bigint): SubscriptionEvents {
  return {
    $typeName: "ves.sequencer.v1.SubscriptionEvents",
    events: events.map(sequencedEventToProto),
    nextSequence,
  };
}

export function subscriptionHeartbeat(head: bigint, nextSequence: bigint): SubscriptionHeartbeat {
  return { $typeName: "ves.sequencer.v1.SubscriptionHeartbeat", headSequence: head, nextSequence };
}
