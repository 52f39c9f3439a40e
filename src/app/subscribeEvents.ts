// Use case: follow a stream from a cursor, first from the log (catch-up), then live through the hub
// (Subscribe, and the subscription of a sync Append stream).
//
// The subscriber's one rule: deliver only the run that continues exactly from its cursor, from its live queue
// when the queue has it, otherwise from the log up to a head known to be committed. So it never skips and
// never repeats, whatever happens to notifications, queues or other instances. Its states:
//   catch-up  the log has events past the cursor that the queue cannot give: read pages (the next one is
//             requested while the current one is being sent), at the client's pace;
//   live      the queue continues from the cursor: deliver from it; wait when it is empty;
//   behind    a live subscriber whose queue overflowed reads the log again (catch-up), and once it has been
//             live, falling more than maxLagEvents behind the head ends the subscription (resource_exhausted).

import { DomainError, invalidField } from "../domain/errors.js";
import type { StoredEvent } from "../domain/event.js";
import { checkEventFilter, type EventFilterInput, isMatchAll, matchesFilter } from "../domain/eventFilter.js";
import { READ_LIMITS } from "../domain/limits.js";
import {
  approxEventBytes,
  checkCursor,
  contiguousLength,
  nextCursor,
  type ReadResult,
  readEnd,
} from "../domain/readRange.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { EventReader } from "./ports.js";
import { neededBefore, readerFor } from "./readerFor.js";
import type { SubscriptionHub } from "./subscriptionHub.js";

export interface SubscribeOptions {
  /** Once live, a subscriber this many events behind the head is ended. */
  readonly maxLagEvents: number;
  /** Heartbeat interval when the request leaves it unset; 0 = none. */
  readonly heartbeatDefaultMs: number;
  readonly heartbeatMinMs: number;
}

export interface SubscribeDeps {
  readonly reader: EventReader;
  readonly hub: SubscriptionHub;
  readonly options: SubscribeOptions;
  readonly now?: () => number;
}

export interface SubscribeInput {
  readonly tenantId: string;
  readonly storeId: string;
  /** 0 and 1 both mean the start; to resume, the last delivered + 1. */
  readonly fromSequence: bigint;
  readonly filter: EventFilterInput | undefined;
  /** Undefined: the server default; 0: none. */
  readonly heartbeatIntervalMs: number | undefined;
}

export type SubscriptionItem =
  | {
      readonly kind: "events";
      readonly events: readonly StoredEvent[];
      readonly nextSequence: bigint;
      /** From the hub's live queue: the same objects go to every subscriber of the stream. */
      readonly live: boolean;
    }
  | { readonly kind: "heartbeat"; readonly head: bigint; readonly nextSequence: bigint };

export const MAX_HEARTBEAT_MS = 3_600_000;

function checkHeartbeat(value: number | undefined, opts: SubscribeOptions, field: string): number {
  if (value === undefined) return opts.heartbeatDefaultMs;
  if (value === 0) return 0;
  if (!Number.isInteger(value) || value < opts.heartbeatMinMs || value > MAX_HEARTBEAT_MS) {
    throw invalidField(field, `0 (none) or ${opts.heartbeatMinMs}..${MAX_HEARTBEAT_MS} ms`, `${value}`);
  }
  return value;
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/**
 * Yields the stream's events from the cursor in order (never a gap, never a repeat) and heartbeats. Ends when
 * `client` aborts; throws DomainError: invalid_argument, out_of_range (cursor past head + 1), resource_exhausted
 * (fell behind), unavailable (shutdown: after handing out what was already queued).
 */
export async function* subscribeEvents(
  deps: SubscribeDeps,
  input: SubscribeInput,
  signals: { readonly client: AbortSignal; readonly shutdown: AbortSignal },
  fieldPrefix = "",
): AsyncGenerator<SubscriptionItem> {
  const { hub, options } = deps;
  const now = deps.now ?? Date.now;
  const stream = parseStreamKey(input.tenantId, input.storeId);
  const filter = checkEventFilter(input.filter, `${fieldPrefix}filter`);
  const all = isMatchAll(filter);
  const heartbeatMs = checkHeartbeat(
    input.heartbeatIntervalMs,
    options,
    `${fieldPrefix}heartbeat_interval_ms`,
  );
  // Catch-up reads go to one copy of the log (a replica that has applied what precedes the cursor, or the
  // primary); a read past what that copy has applied waits for it briefly or is served by the primary.
  const reader = await readerFor(deps.reader, stream, neededBefore(input.fromSequence));
  // The highest head this subscriber has read itself; every bound it reads up to is a committed head.
  let dbHead = await reader.head(stream);
  let cursor = checkCursor(input.fromSequence, dbHead, `${fieldPrefix}from_sequence`);
  const shuttingDown = (): DomainError =>
    new DomainError(
      "unavailable",
      `the sequencer is shutting down; resume from sequence ${cursor} (from_sequence) on another instance`,
    );
  if (signals.shutdown.aborted) throw shuttingDown();

  const member = hub.join(stream, cursor, dbHead);
  const stop = AbortSignal.any([signals.client, signals.shutdown]);
  let live = false;
  let lastSent = now();
  let prefetch: { from: bigint; to: bigint; result: Promise<ReadResult> } | undefined;
  const read = (from: bigint, bound: bigint): { from: bigint; to: bigint; result: Promise<ReadResult> } => {
    const to = readEnd(from, bound, filter, READ_LIMITS.maxPageEvents);
    const result = reader.read(
      stream,
      { from, to, limit: READ_LIMITS.maxPageEvents, maxBytes: READ_LIMITS.maxPageBytes },
      filter,
    );
    result.catch(() => {}); // awaited later, or dropped when the subscriber moved on
    return { from, to, result };
  };
  /** Moves the cursor past `events` (a run ending just before `next`); the matching ones as messages. */
  const advance = (events: readonly StoredEvent[], next: bigint, live: boolean): SubscriptionItem[] => {
    cursor = next;
    member.cursor = next;
    const matched = all ? events : events.filter((e) => matchesFilter(e, filter));
    if (matched.length === 0) return [];
    lastSent = now();
    const items: SubscriptionItem[] = [];
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < matched.length; i++) {
      const size = approxEventBytes(matched[i] as StoredEvent);
      if (i > start && bytes + size > READ_LIMITS.maxMessageBytes) {
        const last = matched[i - 1] as StoredEvent;
        items.push({
          kind: "events",
          events: matched.slice(start, i),
          nextSequence: last.receipt.sequenceNumber + 1n,
          live,
        });
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    items.push({
      kind: "events",
      events: start === 0 ? matched : matched.slice(start),
      nextSequence: next,
      live,
    });
    return items;
  };

  try {
    for (;;) {
      if (signals.client.aborted) return;
      if (signals.shutdown.aborted) {
        // Drain: hand out what is already queued, then tell the client where to resume.
        for (;;) {
          const run = member.take(READ_LIMITS.maxPageEvents, READ_LIMITS.maxMessageBytes);
          if (run.length === 0) break;
          yield* advance(run, cursor + BigInt(run.length), true);
        }
        throw shuttingDown();
      }
      const head = max(dbHead, member.knownHead());
      if (live && head - (cursor - 1n) > BigInt(options.maxLagEvents)) {
        const lag = head - (cursor - 1n);
        throw new DomainError(
          "resource_exhausted",
          `the subscriber fell ${lag} events behind the head (${head}), more than the ${options.maxLagEvents} allowed (SUBSCRIBER_MAX_LAG_EVENTS); read faster, or resume from sequence ${cursor} with a new subscription`,
          { expected: `<= ${options.maxLagEvents} events behind`, actual: `${lag}` },
        );
      }

      // Live: the queue continues from the cursor.
      const run = member.take(READ_LIMITS.maxPageEvents, READ_LIMITS.maxMessageBytes);
      if (run.length > 0) {
        yield* advance(run, cursor + BigInt(run.length), true);
        continue;
      }

      // Catch-up: committed events past the cursor that the queue cannot give.
      const bound = max(dbHead, member.fetchedHead());
      if (bound >= cursor) {
        const page = prefetch?.from === cursor ? prefetch : read(cursor, bound);
        prefetch = undefined;
        const result = await page.result;
        dbHead = max(dbHead, bound);
        let events = result.events;
        let next = nextCursor(page.to, result);
        if (all) {
          const n = contiguousLength(events, cursor);
          if (n < events.length || (!result.truncated && BigInt(n) < page.to - cursor + 1n)) {
            // Cannot happen below a committed head; should it, deliver up to the hole and look again later.
            events = events.slice(0, n);
            next = cursor + BigInt(n);
            if (n === 0) {
              await member.wait(1000, stop);
              continue;
            }
          }
        }
        if (next <= bound) prefetch = read(next, bound); // read ahead while this page is being sent
        yield* advance(events, next, false);
        continue;
      }

      // Caught up with every committed event this instance knows of.
      live = true;
      if (heartbeatMs > 0 && now() - lastSent >= heartbeatMs) {
        lastSent = now();
        yield { kind: "heartbeat", head, nextSequence: cursor };
        continue;
      }
      await member.wait(heartbeatMs > 0 ? lastSent + heartbeatMs - now() : undefined, stop);
    }
  } finally {
    member.leave();
  }
}
