// Use case: one page of a stream's events from a cursor, optionally filtered (PullEvents).

import type { StoredEvent } from "../domain/event.js";
import { checkEventFilter, type EventFilterInput, isMatchAll } from "../domain/eventFilter.js";
import { READ_LIMITS } from "../domain/limits.js";
import { checkCursor, checkPageLimit, contiguousLength, nextCursor, readEnd } from "../domain/readRange.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { EventReader } from "./ports.js";
import { neededBefore, readerFor } from "./readerFor.js";

export interface PullEventsInput {
  readonly tenantId: string;
  readonly storeId: string;
  /** 0 and 1 both mean the start. */
  readonly fromSequence: bigint;
  /** 0 means the default page size. */
  readonly limit: number;
  readonly filter: EventFilterInput | undefined;
}

export interface PullEventsResult {
  readonly events: readonly StoredEvent[];
  /** Every event before it was returned or did not match. */
  readonly nextSequence: bigint;
  readonly hasMore: boolean;
  readonly head: bigint;
}

/** Throws DomainError: invalid_argument (naming the field), out_of_range (cursor past head + 1). */
export async function pullEvents(
  deps: { readonly reader: EventReader },
  input: PullEventsInput,
): Promise<PullEventsResult> {
  const stream = parseStreamKey(input.tenantId, input.storeId);
  const limit = checkPageLimit(input.limit);
  const filter = checkEventFilter(input.filter);
  // A replica serves when it has applied the events before the cursor; its own head bounds the page.
  const reader = await readerFor(deps.reader, stream, neededBefore(input.fromSequence));
  const head = await reader.head(stream);
  const from = checkCursor(input.fromSequence, head, "from_sequence");
  if (from > head) return { events: [], nextSequence: from, hasMore: false, head };

  const to = readEnd(from, head, filter, limit);
  const result = await reader.read(stream, { from, to, limit, maxBytes: READ_LIMITS.maxPageBytes }, filter);
  let events = result.events;
  let next = nextCursor(to, result);
  if (isMatchAll(filter)) {
    // Every position up to a committed head holds an event; should one be missing, stop before it.
    const n = contiguousLength(events, from);
    if (n < events.length || (!result.truncated && BigInt(n) < to - from + 1n)) {
      events = events.slice(0, n);
      next = from + BigInt(n);
    }
  }
  return { events, nextSequence: next, hasMore: next <= head, head };
}
