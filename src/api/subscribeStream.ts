// The Subscribe server stream: subscribeEvents' items as SubscribeResponse messages. HTTP/2 flow control is the
// backpressure: the generator is only asked for the next message once the previous one was written, so a slow
// client pauses its subscription (which then falls back to reading the log at the client's pace).

import type { UnknownField } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type {
  SubscribeRequest,
  SubscribeResponse,
  SubscriptionEvents,
  SubscriptionHeartbeat,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { EventReader } from "../app/ports.js";
import {
  type SubscribeInput,
  type SubscribeOptions,
  type SubscriptionItem,
  subscribeEvents,
} from "../app/subscribeEvents.js";
import type { SubscriptionHub } from "../app/subscriptionHub.js";
import { subscriptionEventsField } from "./eventEncoding.js";
import { isBinaryCodec, subscriptionEvents, subscriptionHeartbeat } from "./readResponses.js";

export interface ReadApiOptions {
  readonly reader: EventReader;
  readonly hub: SubscriptionHub;
  readonly subscribe: SubscribeOptions;
  /** Aborted when the server starts shutting down: subscriptions drain and end with Unavailable. */
  readonly shutdown: AbortSignal;
  readonly onDelivered?: (events: number) => void;
}

export function subscribeInput(req: SubscribeRequest): SubscribeInput {
  return {
    tenantId: req.tenantId,
    storeId: req.storeId,
    fromSequence: req.fromSequence,
    filter: req.filter,
    heartbeatIntervalMs: req.heartbeatIntervalMs,
  };
}

/** The oneof `kind` and raw fields of a response message carrying one subscription item. */
export type SubscriptionMessage = {
  kind:
    | { case: "events"; value: SubscriptionEvents }
    | { case: "heartbeat"; value: SubscriptionHeartbeat }
    | { case: undefined; value?: undefined };
  $unknown?: UnknownField[];
};

/**
 * The items of one subscription as response contents. For binary codecs the events go out as a pre-built raw
 * field `eventsField` (SubscribeResponse.events = 1, AppendResponse.events = 3), built once per live run for
 * all the subscribers of a stream; JSON clients get typed messages.
 */
export async function* subscriptionMessages(
  input: SubscribeInput,
  client: AbortSignal,
  binary: boolean,
  eventsField: number,
  opts: ReadApiOptions,
  fieldPrefix = "",
): AsyncGenerator<SubscriptionMessage> {
  const items: AsyncGenerator<SubscriptionItem> = subscribeEvents(
    { reader: opts.reader, hub: opts.hub, options: opts.subscribe },
    input,
    { client, shutdown: opts.shutdown },
    fieldPrefix,
  );
  for await (const item of items) {
    if (item.kind === "heartbeat") {
      yield { kind: { case: "heartbeat", value: subscriptionHeartbeat(item.head, item.nextSequence) } };
      continue;
    }
    opts.onDelivered?.(item.events.length);
    yield binary
      ? {
          kind: { case: undefined },
          $unknown: [subscriptionEventsField(eventsField, item.events, item.nextSequence, item.live)],
        }
      : { kind: { case: "events", value: subscriptionEvents(item.events, item.nextSequence) } };
  }
}

export async function* subscribeStream(
  req: SubscribeRequest,
  ctx: HandlerContext,
  opts: ReadApiOptions,
): AsyncGenerator<SubscribeResponse> {
  const binary = isBinaryCodec(ctx.requestHeader);
  for await (const m of subscriptionMessages(subscribeInput(req), ctx.signal, binary, 1, opts)) {
    yield { $typeName: "ves.sequencer.v1.SubscribeResponse", ...m };
  }
}
