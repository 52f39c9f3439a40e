// The live tail of every stream that has subscribers on this instance. Commit notifications (from any instance,
// through the CommitFeed) and a periodic poll of the heads tell the hub how far each stream is committed; the
// hub reads each new run of events once and pushes it into the bounded queue of every subscriber that can
// continue from it. The log stays the truth: a subscriber only ever delivers the run that continues exactly
// from its cursor, and reads the log itself whenever its queue cannot give it that (it joined behind, its
// queue overflowed, a notification was lost).
import { DomainError } from "../domain/errors.js";
import type { StoredEvent, StreamKey } from "../domain/event.js";
import { streamKeyString } from "../domain/event.js";
import { MATCH_ALL } from "../domain/eventFilter.js";
import { approxEventBytes, contiguousLength } from "../domain/readRange.js";
import type { CommitFeed, EventReader } from "./ports.js";

export interface SubscriptionHubOptions {
  readonly reader: EventReader;
  readonly feed: CommitFeed;
  /** Events one subscriber may have queued; past that its queue is dropped and it reads the log. */
  readonly bufferEvents: number;
  /** How often the heads of subscribed streams are re-read, in case a notification was lost. */
  readonly pollIntervalMs: number;
  /** Subscribers on this instance at most. */
  readonly maxSubscribers: number;
  /** Events and bytes per read of the tail. */
  readonly pageEvents: number;
  readonly pageBytes: number;
  readonly observer?: SubscriptionHubObserver;
}

export interface SubscriptionHubObserver {
  /** A commit notification arrived from the feed. */
  notified?(): void;
  /** A subscriber's queue overflowed: it falls back to reading the log at its own pace. */
  fellBack?(): void;
  /** A background read or poll failed; the next poll retries. */
  failed?(err: unknown): void;
  subscribers?(count: number): void;
  /** Live events queued for subscribers, all together (at most bufferEvents per subscriber). */
  queued?(events: number): void;
}

/** One subscriber's membership: its queue of live events and what the hub knows of its stream. */
export interface Member {
  readonly stream: StreamKey;
  /** The next sequence number the subscriber delivers; the subscriber keeps it current. */
  cursor: bigint;
  /**
   * The queued run that continues exactly from `cursor` (at most `max` events and about `maxBytes`), removed
   * from the queue; empty when the queue cannot continue from the cursor.
   */
  take(max: number, maxBytes: number): StoredEvent[];
  /** The stream's events up to here were read by the hub (or left to subscribers behind to read). */
  fetchedHead(): bigint;
  /** The highest committed head the hub knows of (0 before any). */
  knownHead(): bigint;
  /** Resolves on new events, a head change or hub shutdown, when `signal` aborts, or after `timeoutMs`. */
  wait(timeoutMs: number | undefined, signal: AbortSignal): Promise<void>;
  leave(): void;
}

export interface SubscriptionHub {
  /**
   * Adds a subscriber whose next event is `cursor`; `committedHead` is a head it read itself (it starts a new
   * tail there). Throws DomainError: resource_exhausted past maxSubscribers, unavailable once closed.
   */
  join(stream: StreamKey, cursor: bigint, committedHead: bigint): Member;
  /**
   * A commit made `head` the stream's head. `committed`: the run of events that commit wrote (a commit of this
   * instance), pushed as they are when they continue the tail exactly, instead of being read back.
   */
  onHead(stream: StreamKey, head: bigint, committed?: readonly StoredEvent[]): void;
  readonly size: number;
  start(): Promise<void>;
  close(): Promise<void>;
}

interface MemberState extends Member {
  queue: StoredEvent[];
  /** Index of the first live entry of `queue`. */
  qStart: number;
  signaled: boolean;
  waiter: (() => void) | undefined;
}

interface Tail {
  readonly stream: StreamKey;
  readonly key: string;
  /** Highest committed head announced for the stream. */
  target: bigint;
  /** Events up to here were pushed to every subscriber that could take them; those behind read the log. */
  fetched: bigint;
  fetching: boolean;
  readonly members: Set<MemberState>;
}

function wake(m: MemberState): void {
  m.signaled = true;
  const w = m.waiter;
  m.waiter = undefined;
  w?.();
}

/** The sequence number after the member's queue: where pushed events must start to be usable. */
function expectedOf(m: MemberState): bigint {
  const last = m.queue[m.queue.length - 1];
  if (last !== undefined && m.qStart < m.queue.length) {
    const after = last.receipt.sequenceNumber + 1n;
    return after > m.cursor ? after : m.cursor;
  }
  return m.cursor;
}

export function createSubscriptionHub(opts: SubscriptionHubOptions): SubscriptionHub {
  const tails = new Map<string, Tail>();
  const observer = opts.observer ?? {};
  let size = 0;
  let queuedTotal = 0;
  let closed = false;
  let stopFeed: (() => Promise<void>) | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let polling = false;

  const countQueued = (delta: number): void => {
    if (delta === 0) return;
    queuedTotal += delta;
    observer.queued?.(queuedTotal);
  };

  const wakeAll = (tail: Tail): void => {
    for (const m of tail.members) wake(m);
  };

  /** Appends the contiguous run `events` (starting at `from`) to a member's queue where it continues it. */
  const push = (m: MemberState, events: readonly StoredEvent[], from: bigint): void => {
    const expected = expectedOf(m);
    const offset = expected - from;
    if (offset < 0n || offset >= BigInt(events.length)) return; // behind (a hole for it) or already has them
    const queued = m.queue.length - m.qStart;
    const adding = events.length - Number(offset);
    if (queued + adding > opts.bufferEvents) {
      // Too slow to keep up live: forget the queue; it continues from the log at its own pace.
      m.queue = [];
      m.qStart = 0;
      countQueued(-queued);
      observer.fellBack?.();
      wake(m);
      return;
    }
    for (let i = Number(offset); i < events.length; i++) m.queue.push(events[i] as StoredEvent);
    countQueued(adding);
    wake(m);
  };

  /** True when some member's queue would continue with the event at `from`. */
  const anyContinues = (tail: Tail, from: bigint): boolean => {
    for (const m of tail.members) {
      const e = expectedOf(m);
      if (e >= from && e <= tail.target) return true;
    }
    return false;
  };

  const fetchLoop = async (tail: Tail): Promise<void> => {
    tail.fetching = true;
    try {
      while (tails.get(tail.key) === tail && tail.fetched < tail.target) {
        const from: bigint = tail.fetched + 1n;
        if (!anyContinues(tail, from)) {
          // Nobody is waiting at the tail: those behind read the log themselves.
          tail.fetched = tail.target;
          wakeAll(tail);
          break;
        }
        const end = from + BigInt(opts.pageEvents) - 1n;
        const to = end < tail.target ? end : tail.target;
        const { events } = await opts.reader.read(
          tail.stream,
          { from, to, limit: opts.pageEvents, maxBytes: opts.pageBytes },
          MATCH_ALL,
        );
        // The target was committed, so [from, to] has no hole; were one there, stop before it and let the
        // next poll try again rather than hand anyone a run with a gap.
        const n = contiguousLength(events, from);
        if (n === 0) break;
        const run = n === events.length ? events : events.slice(0, n);
        tail.fetched = from + BigInt(n) - 1n;
        for (const m of tail.members) push(m, run, from);
        wakeAll(tail);
      }
    } catch (err) {
      observer.failed?.(err);
    } finally {
      tail.fetching = false;
    }
  };

  const onHead = (stream: StreamKey, head: bigint, committed?: readonly StoredEvent[]): void => {
    const tail = tails.get(streamKeyString(stream));
    if (tail === undefined) return;
    const first = committed?.[0];
    if (
      committed !== undefined &&
      first !== undefined &&
      !tail.fetching &&
      tail.fetched === tail.target &&
      first.receipt.sequenceNumber === tail.fetched + 1n &&
      first.receipt.sequenceNumber + BigInt(committed.length) - 1n === head &&
      contiguousLength(committed, tail.fetched + 1n) === committed.length
    ) {
      tail.fetched = head;
      tail.target = head;
      for (const m of tail.members) push(m, committed, first.receipt.sequenceNumber);
      wakeAll(tail);
      return;
    }
    if (head > tail.target) tail.target = head;
    if (!tail.fetching && tail.fetched < tail.target) void fetchLoop(tail);
  };

  const poll = async (): Promise<void> => {
    if (polling || tails.size === 0) return;
    polling = true;
    try {
      const streams = [...tails.values()].map((t) => t.stream);
      const heads = await opts.reader.heads(streams);
      for (const s of streams) onHead(s, heads.get(streamKeyString(s)) ?? 0n);
    } catch (err) {
      observer.failed?.(err);
    } finally {
      polling = false;
    }
  };

  const join = (stream: StreamKey, cursor: bigint, committedHead: bigint): Member => {
    if (closed)
      throw new DomainError("unavailable", "the sequencer is shutting down; subscribe to another instance");
    if (size >= opts.maxSubscribers) {
      throw new DomainError(
        "resource_exhausted",
        `this instance already serves ${size} subscribers (SUBSCRIBER_MAX); retry later or use another instance`,
        { expected: `<= ${opts.maxSubscribers}`, actual: `${size + 1}` },
      );
    }
    const key = streamKeyString(stream);
    let tail = tails.get(key);
    if (tail === undefined) {
      // Subscribers behind the joiner's head read the log themselves; the tail reads what comes after it.
      tail = {
        stream,
        key,
        target: committedHead,
        fetched: committedHead,
        fetching: false,
        members: new Set(),
      };
      tails.set(key, tail);
    }
    const t = tail;
    const m: MemberState = {
      stream,
      cursor,
      queue: [],
      qStart: 0,
      signaled: false,
      waiter: undefined,
      take(max, maxBytes) {
        const before = m.queue.length - m.qStart;
        while (
          m.qStart < m.queue.length &&
          (m.queue[m.qStart] as StoredEvent).receipt.sequenceNumber < m.cursor
        ) {
          m.qStart++;
        }
        const out: StoredEvent[] = [];
        let expected = m.cursor;
        let bytes = 0;
        while (m.qStart < m.queue.length && out.length < max) {
          const e = m.queue[m.qStart] as StoredEvent;
          if (e.receipt.sequenceNumber !== expected) break;
          const size = approxEventBytes(e);
          if (out.length > 0 && bytes + size > maxBytes) break;
          out.push(e);
          bytes += size;
          expected++;
          m.qStart++;
        }
        if (m.qStart === m.queue.length) {
          m.queue = [];
          m.qStart = 0;
        } else if (m.qStart > 1024 && m.qStart * 2 > m.queue.length) {
          m.queue = m.queue.slice(m.qStart);
          m.qStart = 0;
        }
        countQueued(m.queue.length - m.qStart - before);
        return out;
      },
      fetchedHead: () => t.fetched,
      knownHead: () => t.target, // fetched never passes target
      wait(timeoutMs, signal) {
        if (m.signaled || signal.aborted || closed) {
          m.signaled = false;
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          let timer: NodeJS.Timeout | undefined;
          const done = (): void => {
            if (timer !== undefined) clearTimeout(timer);
            signal.removeEventListener("abort", done);
            if (m.waiter === done) m.waiter = undefined;
            m.signaled = false;
            resolve();
          };
          m.waiter = done;
          signal.addEventListener("abort", done, { once: true });
          if (timeoutMs !== undefined) timer = setTimeout(done, Math.max(0, timeoutMs));
        });
      },
      leave() {
        if (!t.members.delete(m)) return;
        size--;
        observer.subscribers?.(size);
        countQueued(-(m.queue.length - m.qStart));
        m.queue = [];
        m.qStart = 0;
        if (t.members.size === 0 && tails.get(key) === t) tails.delete(key);
      },
    };
    t.members.add(m);
    size++;
    observer.subscribers?.(size);
    return m;
  };

  return {
    join,
    onHead,
    get size() {
      return size;
    },
    async start() {
      const feed = await opts.feed.start({
        onHead(stream, head) {
          observer.notified?.();
          onHead(stream, head);
        },
        onGap() {
          void poll();
        },
      });
      stopFeed = () => feed.stop();
      pollTimer = setInterval(() => void poll(), opts.pollIntervalMs);
      pollTimer.unref();
    },
    async close() {
      closed = true;
      if (pollTimer !== undefined) clearInterval(pollTimer);
      await stopFeed?.();
      for (const t of tails.values()) wakeAll(t);
    },
  };
}
