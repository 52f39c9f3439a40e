// Cursors and page bounds of the read API: where a read starts, how far it may look, where the next one starts.
// A read never looks past the stream's committed head, so it never skips a slow transaction's rows.
import { DomainError, invalidField } from "./errors.js";
import type { StoredEvent } from "./event.js";
import { type EventFilter, isIndexedFilter, isMatchAll } from "./eventFilter.js";
import { READ_LIMITS } from "./limits.js";

/** The page size a request asked for: 0 means the default, otherwise 1..maxPageEvents. */
export function checkPageLimit(limit: number, field = "limit"): number {
  if (limit === 0) return READ_LIMITS.defaultPageEvents;
  if (!Number.isInteger(limit) || limit < 1 || limit > READ_LIMITS.maxPageEvents) {
    throw invalidField(
      field,
      `0 (default ${READ_LIMITS.defaultPageEvents}) or 1..${READ_LIMITS.maxPageEvents}`,
      `${limit}`,
    );
  }
  return limit;
}

/**
 * The first position to read (0 and 1 both mean the start). Past `head + 1` there is nothing to wait for but a
 * client bug, so that is out_of_range; a stream with no events yet accepts any cursor.
 */
export function checkCursor(from: bigint, head: bigint, field: string, what = "the stream's head"): bigint {
  const start = from === 0n ? 1n : from;
  if (head > 0n && start > head + 1n) {
    throw new DomainError(
      "out_of_range",
      `"${field}" expected at most ${head + 1n} (${what} + 1), got ${start}; ${what} is ${head}`,
      { field, expected: `<= ${head + 1n}`, actual: `${start}` },
    );
  }
  return start;
}

/**
 * The last position one read may look at: all of a page for an unfiltered read, the whole committed range
 * when an index serves the filter, otherwise a bounded scan window.
 */
export function readEnd(from: bigint, head: bigint, filter: EventFilter, limit: number): bigint {
  const window = isMatchAll(filter)
    ? BigInt(limit)
    : isIndexedFilter(filter)
      ? head - from + 1n
      : BigInt(Math.max(limit, READ_LIMITS.maxScanEvents));
  const end = from + window - 1n;
  return end < head ? end : head;
}

/** One read: the matching events of [from, to] in order, and whether it stopped early (limit or bytes). */
export interface ReadResult {
  readonly events: StoredEvent[];
  readonly truncated: boolean;
}

/** Where the read after `result` of [from, to] starts. */
export function nextCursor(to: bigint, result: ReadResult): bigint {
  const last = result.events[result.events.length - 1];
  return result.truncated && last !== undefined ? last.receipt.sequenceNumber + 1n : to + 1n;
}

/** How many events from the start form the run from, from + 1, ... with no hole. */
export function contiguousLength(events: readonly StoredEvent[], from: bigint): number {
  let expected = from;
  for (let i = 0; i < events.length; i++) {
    if ((events[i] as StoredEvent).receipt.sequenceNumber !== expected) return i;
    expected++;
  }
  return events.length;
}

/** Approximate wire size of an event, for byte budgets: its payload plus a fixed allowance for the rest. */
export function approxEventBytes(e: StoredEvent): number {
  const p = e.payloadEncrypted;
  const payload =
    e.payload !== undefined
      ? e.payload.length
      : p === undefined
        ? 0
        : p.ciphertext.length + 100 * p.recipients.length;
  return payload + 800;
}
