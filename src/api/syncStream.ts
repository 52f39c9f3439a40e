// The Append stream with an optional subscription (a sync stream): an agent pushes its batches and receives the
// stream's events on one full-duplex stream. Kept apart from appendStream, which it wraps: it only watches the
// requests for `subscription`, and merges the batch results with the subscription's messages.
//
// Without a subscription the stream ends when the batches are answered, as before. With one it stays open after
// the client half-closes, until the client cancels; an error of either side ends the stream (queued messages
// first). On shutdown appendStream answers what it read and the subscription drains; then Unavailable.
import type { HandlerContext } from "@connectrpc/connect";
import type { AppendRequest, AppendResponse } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { DomainError } from "../domain/errors.js";
import { endWhenIdle } from "./endWhenIdle.js";
import { isBinaryCodec } from "./readResponses.js";
import { type ReadApiOptions, subscribeInput, subscriptionMessages } from "./subscribeStream.js";

/** Responses waiting to be written, across both sources; past this the sources are not asked for more. */
const MAX_QUEUED = 4;

export type RunAppend = (
  requests: AsyncIterable<AppendRequest>,
  signal: AbortSignal,
) => AsyncGenerator<AppendResponse>;

export async function* syncStream(
  requests: AsyncIterable<AppendRequest>,
  ctx: HandlerContext,
  opts: ReadApiOptions,
  runAppend: RunAppend,
  /** End the stream (UNAVAILABLE) after this long without a request, unless it carries a subscription; 0: never. */
  idleTimeoutMs = 0,
): AsyncGenerator<AppendResponse> {
  const local = new AbortController();
  const signal = AbortSignal.any([ctx.signal, local.signal]);
  const binary = isBinaryCodec(ctx.requestHeader);
  const out: AppendResponse[] = [];
  let failure: { err: unknown } | undefined;
  let running = 0;
  let closed = false;
  let changed: (() => void) | undefined;
  let spaceWaiters: (() => void)[] = [];
  const notify = (): void => {
    const c = changed;
    changed = undefined;
    c?.();
  };
  const releaseSpace = (): void => {
    const waiters = spaceWaiters;
    spaceWaiters = [];
    for (const w of waiters) w();
  };

  /** Copies a source into `out`, pausing while `out` is full. */
  const run = (source: AsyncIterable<AppendResponse>): void => {
    running++;
    void (async () => {
      try {
        for await (const m of source) {
          if (closed) break;
          out.push(m);
          notify();
          while (out.length >= MAX_QUEUED && !closed) {
            await new Promise<void>((r) => spaceWaiters.push(r));
          }
        }
      } catch (err) {
        failure ??= { err };
      } finally {
        running--;
        notify();
      }
    })();
  };

  let subscribed = false;
  async function* subscriptionResponses(
    req: NonNullable<AppendRequest["subscription"]>,
  ): AsyncGenerator<AppendResponse> {
    const messages = subscriptionMessages(subscribeInput(req), signal, binary, 3, opts, "subscription.");
    for await (const m of messages) yield { $typeName: "ves.sequencer.v1.AppendResponse", ...m };
  }
  async function* batches(): AsyncGenerator<AppendRequest> {
    for await (const req of endWhenIdle(requests, idleTimeoutMs, () => subscribed)) {
      if (req.subscription !== undefined) {
        if (subscribed) {
          throw new DomainError(
            "invalid_argument",
            '"subscription" expected at most one per Append stream, got a second one',
            { field: "subscription", expected: "one subscription", actual: "two" },
          );
        }
        subscribed = true;
        run(subscriptionResponses(req.subscription));
        if (req.batchId === "" && req.events.length === 0) continue; // a subscription only, not a batch
      }
      yield req;
    }
  }

  run(runAppend(batches(), signal));
  try {
    for (;;) {
      const m = out.shift();
      if (m !== undefined) {
        releaseSpace();
        yield m;
        continue;
      }
      if (failure !== undefined) throw failure.err;
      if (running === 0) return;
      await new Promise<void>((r) => {
        changed = r;
      });
    }
  } finally {
    closed = true;
    local.abort();
    releaseSpace();
  }
}
