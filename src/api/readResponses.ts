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
  shared = false,
): { events: SequencedEvent[]; $unknown?: ReturnType<typeof eventsAsUnknownFields> } {
  return binary
    ? { events: [], $unknown: eventsAsUnknownFields(1, events, shared) }
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

/** `shared`: live events the hub hands to every subscriber of the stream (encoded once for all). */
export function subscriptionEvents(
  events: readonly StoredEvent[],
  nextSequence: bigint,
  binary: boolean,
  shared: boolean,
): SubscriptionEvents {
  return {
    $typeName: "ves.sequencer.v1.SubscriptionEvents",
    ...eventsField(events, binary, shared),
    nextSequence,
  };
}

export function subscriptionHeartbeat(head: bigint, nextSequence: bigint): SubscriptionHeartbeat {
  return { $typeName: "ves.sequencer.v1.SubscriptionHeartbeat", headSequence: head, nextSequence };
}
