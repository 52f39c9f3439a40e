// The Subscribe server stream: subscribeEvents' items as SubscribeResponse messages. HTTP/2 flow control is the
// backpressure: the generator is only asked for the next message once the previous one was written, so a slow
// client pauses its subscription (which then falls back to reading the log at the client's pace).
import type { HandlerContext } from "@connectrpc/connect";
import type { SubscribeRequest, SubscribeResponse } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { EventReader } from "../app/ports.js";
import {
  type SubscribeInput,
  type SubscribeOptions,
  type SubscriptionItem,
  subscribeEvents,
} from "../app/subscribeEvents.js";
import type { SubscriptionHub } from "../app/subscriptionHub.js";
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

/** The items of one subscription with its events as messages, ready for any response type. */
export async function* subscriptionMessages(
  input: SubscribeInput,
  client: AbortSignal,
  binary: boolean,
  opts: ReadApiOptions,
  fieldPrefix = "",
): AsyncGenerator<
  | { case: "events"; value: ReturnType<typeof subscriptionEvents> }
  | { case: "heartbeat"; value: ReturnType<typeof subscriptionHeartbeat> }
> {
  const items: AsyncGenerator<SubscriptionItem> = subscribeEvents(
    { reader: opts.reader, hub: opts.hub, options: opts.subscribe },
    input,
    { client, shutdown: opts.shutdown },
    fieldPrefix,
  );
  for await (const item of items) {
    if (item.kind === "events") {
      opts.onDelivered?.(item.events.length);
      yield { case: "events", value: subscriptionEvents(item.events, item.nextSequence, binary, item.live) };
    } else {
      yield { case: "heartbeat", value: subscriptionHeartbeat(item.head, item.nextSequence) };
    }
  }
}

export async function* subscribeStream(
  req: SubscribeRequest,
  ctx: HandlerContext,
  opts: ReadApiOptions,
): AsyncGenerator<SubscribeResponse> {
  const binary = isBinaryCodec(ctx.requestHeader);
  for await (const kind of subscriptionMessages(subscribeInput(req), ctx.signal, binary, opts)) {
    yield { $typeName: "ves.sequencer.v1.SubscribeResponse", kind };
  }
}
