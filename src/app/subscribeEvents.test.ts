// The subscriber state machine against an in-memory log: whatever happens to notifications (lost, repeated,
// stale, early), polls, buffers and the consumer's pace, every subscriber delivers exactly 1..N in order.
import { describe, expect, it } from "vitest";
import type { StoredEvent, StreamKey } from "../domain/event.js";
import { streamKeyString } from "../domain/event.js";
import { matchesFilter } from "../domain/eventFilter.js";
import type { CommitListener, EventReader } from "./ports.js";
import { type SubscriptionItem, subscribeEvents } from "./subscribeEvents.js";
import { createSubscriptionHub, type SubscriptionHub } from "./subscriptionHub.js";

const STREAM: StreamKey = {
  tenantId: "11111111-1111-4111-8111-111111111111",
  storeId: "22222222-2222-4222-8222-222222222222",
};

function storedEvent(seq: number): StoredEvent {
  const z = new Uint8Array(32);
  return {
    vesVersion: 1,
    eventId: crypto.randomUUID(),
    ...STREAM,
    sourceAgentId: "33333333-3333-4333-8333-333333333333",
    agentKeyId: 1,
    entityType: seq % 3 === 0 ? "customer" : "order",
    entityId: `e-${seq % 4}`,
    eventType: "t",
    createdAt: "2025-01-01T00:00:00Z",
    payloadKind: 0,
    payload: new Uint8Array(10),
    payloadEncrypted: undefined,
    payloadPlainHash: z,
    payloadCipherHash: z,
    agentSignature: new Uint8Array(64),
    agentSignatureScheme: 1,
    commandId: undefined,
    baseVersion: undefined,
    entityVersion: 1n,
    receipt: {
      sequencerId: "44444444-4444-4444-8444-444444444444",
      sequencerKeyId: "k",
      ...STREAM,
      eventId: "e",
      sequenceNumber: BigInt(seq),
      sequencedAt: new Date(0),
      eventSigningHash: z,
      receiptHash: z,
      sequencerSignature: new Uint8Array(64),
    },
  };
}

/** A log whose reads return fresh objects (like a database) after a random delay. */
function memoryLog(random: () => number) {
  const events: StoredEvent[] = [];
  let reads = 0;
  const delay = (): Promise<void> => new Promise((r) => setTimeout(r, random() < 0.5 ? 0 : 1));
  const reader: EventReader = {
    async head() {
      await delay();
      return BigInt(events.length);
    },
    async heads(streams) {
      await delay();
      return new Map(streams.map((s) => [streamKeyString(s), BigInt(events.length)]));
    },
    async read(_stream, range, filter) {
      reads++;
      await delay();
      if (range.to > BigInt(events.length))
        throw new Error(`read past the head: ${range.to} > ${events.length}`);
      const out: StoredEvent[] = [];
      for (let s = range.from; s <= range.to && out.length < range.limit; s++) {
        const e = events[Number(s) - 1] as StoredEvent;
        if (matchesFilter(e, filter)) out.push({ ...e });
      }
      return { events: out, truncated: out.length >= range.limit };
    },
    async entityVersion() {
      return 0n;
    },
    async entityEvents() {
      return { events: [], truncated: false };
    },
  };
  return {
    reader,
    events,
    reads: () => reads,
    commit(n: number): bigint {
      for (let i = 0; i < n; i++) events.push(storedEvent(events.length + 1));
      return BigInt(events.length);
    },
  };
}

/** A deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function startHub(
  reader: EventReader,
  bufferEvents: number,
  pollIntervalMs = 20,
  maxSubscribers = 100,
) {
  let listener: CommitListener | undefined;
  const hub = createSubscriptionHub({
    reader,
    feed: {
      async start(l) {
        listener = l;
        return { stop: async () => {} };
      },
    },
    bufferEvents,
    pollIntervalMs,
    maxSubscribers,
    pageEvents: 7,
    pageBytes: 1_000_000,
    observer: {
      queued(n) {
        queued.now = n;
        queued.peak = Math.max(queued.peak, n);
      },
    },
  });
  const queued = { now: 0, peak: 0 };
  await hub.start();
  return { hub, queued, notify: (head: bigint) => listener?.onHead(STREAM, head) };
}

const options = { maxLagEvents: 1_000_000, heartbeatDefaultMs: 0, heartbeatMinMs: 1 };

async function consume(
  hub: SubscriptionHub,
  reader: EventReader,
  from: bigint,
  until: number,
  random: () => number,
  filter?: { entityType: string },
): Promise<bigint[]> {
  const client = new AbortController();
  const seen: bigint[] = [];
  const items = subscribeEvents(
    { reader, hub, options },
    {
      ...STREAM,
      fromSequence: from,
      heartbeatIntervalMs: undefined,
      filter:
        filter === undefined ? undefined : { ...filter, entityId: "", eventTypes: [], sourceAgentIds: [] },
    },
    { client: client.signal, shutdown: new AbortController().signal },
  );
  for await (const item of items) {
    if (item.kind !== "events") continue;
    for (const e of item.events) seen.push(e.receipt.sequenceNumber);
    if (item.nextSequence > BigInt(until)) break;
    if (random() < 0.3) await new Promise((r) => setTimeout(r, random() < 0.8 ? 0 : 5));
  }
  return seen;
}

describe("subscribeEvents", () => {
  it.each([1, 2, 3, 4, 5, 6])(
    "delivers exactly 1..N through lost, stale and repeated notifications (seed %i)",
    async (seed) => {
      const random = prng(seed);
      const log = memoryLog(random);
      log.commit(Math.floor(random() * 30)); // history before anyone subscribes
      const buffer = 1 + Math.floor(random() * 10);
      const { hub, notify, queued } = await startHub(log.reader, buffer);
      const N = 400;
      const subscribers = Array.from({ length: 5 }, (_, i) =>
        consume(hub, log.reader, i === 0 ? 0n : 1n, N, prng(seed * 100 + i)),
      );
      let resumed: Promise<bigint[]> | undefined;
      while (log.events.length < N) {
        // A subscriber resuming from its cursor (valid once the stream reached cursor - 1).
        if (resumed === undefined && log.events.length >= 122)
          resumed = consume(hub, log.reader, 123n, N, prng(seed));
        const before = log.events.length;
        const head = log.commit(Math.min(N - log.events.length, 1 + Math.floor(random() * 12)));
        const r = random();
        // A commit of this instance (with its events), delivered, stale (late and out of order), repeated, or
        // lost (only the poll tells).
        if (r < 0.3) hub.onHead(STREAM, head, log.events.slice(before));
        else if (r < 0.6) notify(head);
        else if (r < 0.7) notify(head - 3n);
        else if (r < 0.8) {
          notify(head);
          notify(head);
        }
        await new Promise((res) => setTimeout(res, random() < 0.5 ? 0 : 2));
      }
      const range = (from: number) => Array.from({ length: N - from + 1 }, (_, i) => BigInt(from + i));
      for (const seen of await Promise.all(subscribers)) expect(seen).toEqual(range(1));
      expect(await resumed).toEqual(range(123));
      expect(hub.size).toBe(0);
      expect(queued.now).toBe(0);
      expect(queued.peak).toBeLessThanOrEqual(6 * buffer);
      await hub.close();
    },
  );

  it("delivers only matching events, and all of them, with a filter", async () => {
    const random = prng(42);
    const log = memoryLog(random);
    const { hub, notify } = await startHub(log.reader, 4);
    const N = 300;
    const seen = consume(hub, log.reader, 1n, N, random, { entityType: "customer" });
    while (log.events.length < N) {
      notify(log.commit(Math.min(N - log.events.length, 1 + Math.floor(random() * 9))));
      await new Promise((res) => setTimeout(res, 1));
    }
    expect(await seen).toEqual(
      log.events.filter((e) => e.entityType === "customer").map((e) => e.receipt.sequenceNumber),
    );
    await hub.close();
  });

  it("reads each live batch once for all subscribers that keep up", async () => {
    const log = memoryLog(() => 0);
    const { hub, notify } = await startHub(log.reader, 1000, 60_000);
    const client = new AbortController();
    const subs = Array.from({ length: 20 }, () =>
      subscribeEvents(
        { reader: log.reader, hub, options },
        { ...STREAM, fromSequence: 1n, heartbeatIntervalMs: undefined, filter: undefined },
        { client: client.signal, shutdown: new AbortController().signal },
      ),
    );
    const firsts = subs.map((s) => s.next());
    notify(log.commit(0)); // the hub learns the (empty) head
    await new Promise((r) => setTimeout(r, 10));
    const before = log.reads();
    notify(log.commit(5));
    const got = (await Promise.all(firsts)).map(
      (r) => (r.value as SubscriptionItem & { kind: "events" }).events.length,
    );
    expect(got).toEqual(Array(20).fill(5));
    expect(log.reads() - before).toBe(1);
    client.abort();
    await Promise.all(subs.map((s) => s.return(undefined)));
    await hub.close();
  });

  it("pushes a commit of this instance without reading it back when it continues the tail", async () => {
    const log = memoryLog(() => 0);
    const { hub } = await startHub(log.reader, 1000, 60_000);
    const client = new AbortController();
    const subs = Array.from({ length: 5 }, () =>
      subscribeEvents(
        { reader: log.reader, hub, options },
        { ...STREAM, fromSequence: 1n, heartbeatIntervalMs: undefined, filter: undefined },
        { client: client.signal, shutdown: new AbortController().signal },
      ),
    );
    const firsts = subs.map((s) => s.next());
    await new Promise((r) => setTimeout(r, 10));
    const before = log.reads();
    const head = log.commit(4);
    hub.onHead(STREAM, head, log.events.slice(0, 4));
    const got = await Promise.all(firsts);
    expect(got.map((r) => (r.value as SubscriptionItem & { kind: "events" }).nextSequence)).toEqual(
      Array(5).fill(5n),
    );
    expect(log.reads() - before).toBe(0);
    // A commit that does not continue the tail (here: one was missed) is read from the log instead.
    log.commit(3);
    const seconds = subs.map((s) => s.next());
    hub.onHead(STREAM, log.commit(2), log.events.slice(7, 9));
    const again = await Promise.all(seconds);
    expect(again.map((r) => (r.value as SubscriptionItem & { kind: "events" }).nextSequence)).toEqual(
      Array(5).fill(10n),
    );
    expect(log.reads() - before).toBeGreaterThan(0);
    client.abort();
    await Promise.all(subs.map((s) => s.return(undefined)));
    await hub.close();
  });

  it("refuses subscribers past the limit with resource_exhausted, and any once closed with unavailable", async () => {
    const log = memoryLog(() => 0);
    const { hub } = await startHub(log.reader, 10, 60_000, 2);
    const a = hub.join(STREAM, 1n, 0n);
    hub.join(STREAM, 1n, 0n);
    expect(() => hub.join(STREAM, 1n, 0n)).toThrow(expect.objectContaining({ reason: "resource_exhausted" }));
    a.leave();
    hub.join(STREAM, 1n, 0n);
    await hub.close();
    expect(() => hub.join(STREAM, 1n, 0n)).toThrow(expect.objectContaining({ reason: "unavailable" }));
  });

  it("ends a subscriber that fell too far behind after being live, and one at shutdown", async () => {
    const log = memoryLog(() => 0);
    const { hub, notify } = await startHub(log.reader, 5);
    log.commit(3);
    const client = new AbortController();
    const shutdown = new AbortController();
    const lagging = subscribeEvents(
      { reader: log.reader, hub, options: { ...options, maxLagEvents: 10 } },
      { ...STREAM, fromSequence: 1n, heartbeatIntervalMs: undefined, filter: undefined },
      { client: client.signal, shutdown: shutdown.signal },
    );
    expect((await lagging.next()).value).toMatchObject({ kind: "events", nextSequence: 4n });
    const pending = lagging.next(); // caught up: now live, waiting
    await new Promise((r) => setTimeout(r, 5));
    notify(log.commit(20));
    await expect(pending).rejects.toMatchObject({
      reason: "resource_exhausted",
      message: /fell 20 events behind the head \(23\).*resume from sequence 4/,
    });

    const quiet = subscribeEvents(
      { reader: log.reader, hub, options },
      { ...STREAM, fromSequence: 24n, heartbeatIntervalMs: undefined, filter: undefined },
      { client: client.signal, shutdown: shutdown.signal },
    );
    const next = quiet.next();
    await new Promise((r) => setTimeout(r, 5));
    shutdown.abort();
    await expect(next).rejects.toMatchObject({ reason: "unavailable", message: /resume from sequence 24/ });
    await hub.close();
  });
});
