// Subscribe and the sync Append stream against a real PostgreSQL through a real gRPC client: catch-up then live,
// resuming from a cursor, filters, heartbeats, many subscribers, falling behind, lost notifications, shutdown.
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { type AppendRequest, SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../src/client/signEvent.js";
import { signedEventToProto } from "../src/client/toProto.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { appendAll, expectExactRange, expectVerified } from "./support/reads.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";
import { follow, metric, type Received, sleep } from "./support/subscriber.js";

let db: TestDatabase;
let server: Sequencer;
let seq: Client<typeof SequencerService>;
let keys: Client<typeof KeyRegistryService>;
let sequencerKey: Uint8Array;

const clientFor = (url: string) => createClient(SequencerService, testTransport(url));

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url, { SUBSCRIBE_HEARTBEAT_MIN_MS: "50" });
  seq = clientFor(server.url);
  keys = createClient(KeyRegistryService, testTransport(server.url));
  sequencerKey = (await seq.getSequencerInfo({})).signingKeys[0]?.publicKey as Uint8Array;
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

async function newAgent(opts: Parameters<typeof createAgent>[0] = {}): Promise<TestAgent> {
  const agent = createAgent(opts);
  await registerAgent(keys, agent);
  return agent;
}

function events(
  agent: TestAgent,
  n: number,
  shape: (i: number) => Partial<Parameters<TestAgent["event"]>[0]> = () => ({}),
) {
  return Array.from({ length: n }, (_, i) => agent.event({ entityId: `e-${i % 13}`, ...shape(i) }));
}

const streamOf = (a: TestAgent) => ({ tenantId: a.tenantId, storeId: a.storeId });

describe("Subscribe", () => {
  it("catches up from the cursor, then follows live, in order with no gap, every event verifying", async () => {
    const agent = await newAgent();
    await appendAll(seq, events(agent, 300), 100);
    const received = follow(
      seq,
      { ...streamOf(agent), fromSequence: 1n },
      { until: 1000n, keepEvents: true },
    );
    await appendAll(seq, events(agent, 700), 50);
    const r = await received;
    expectExactRange(r.sequences, 1000);
    expectVerified(r.events, new Map([[agent.agentId, agent.publicKey]]), sequencerKey);
  });

  it("resumes from its cursor after disconnects with no gap and no repeat", async () => {
    const agent = await newAgent();
    const N = 3000;
    const writing = appendAll(seq, events(agent, N), 50);
    const seen: bigint[] = [];
    let cursor = 1n;
    for (let connection = 0; cursor <= BigInt(N); connection++) {
      // Each connection reads a few messages and then goes away mid-stream (the last one reads to the end).
      let messages = 0;
      const hangUp = new AbortController();
      try {
        for await (const res of seq.subscribe(
          { ...streamOf(agent), fromSequence: cursor },
          { signal: hangUp.signal },
        )) {
          if (res.kind.case !== "events") continue;
          for (const e of res.kind.value.events) seen.push(e.receipt?.sequenceNumber ?? -1n);
          cursor = (seen[seen.length - 1] ?? 0n) + 1n;
          if (cursor > BigInt(N) || (connection < 8 && ++messages >= 3)) hangUp.abort();
        }
      } catch (err) {
        if (!hangUp.signal.aborted) throw err;
      }
    }
    await writing;
    expectExactRange(seen, N);
    // Every connection that hung up mid-stream released its subscription on the server.
    for (let i = 0; i < 50 && (await metric(server.url, "ves_subscribers")) > 0; i++) await sleep(20);
    expect(await metric(server.url, "ves_subscribers")).toBe(0);
  });

  it("releases the subscription of a client that hangs up while the server is blocked writing to it", async () => {
    const agent = await newAgent();
    await appendAll(seq, events(agent, 4000), 1000); // about 3 MB: more than the HTTP/2 windows hold
    const hangUp = new AbortController();
    const reading = (async () => {
      for await (const _ of seq.subscribe({ ...streamOf(agent) }, { signal: hangUp.signal })) {
        await sleep(300); // stop reading: the server's write blocks on flow control
        hangUp.abort();
      }
    })().catch(() => {});
    await reading;
    for (let i = 0; i < 100 && (await metric(server.url, "ves_subscribers")) > 0; i++) await sleep(20);
    expect(await metric(server.url, "ves_subscribers")).toBe(0);
  });

  it("delivers exactly the matching events, live and caught up, with the cursor moving past the others", async () => {
    const agent = await newAgent();
    const other = await newAgent(streamOf(agent));
    const log: SignedEvent[] = [];
    const mk = (a: TestAgent, n: number) =>
      events(a, n, (i) => ({
        entityType: i % 4 === 0 ? "customer" : "order",
        eventType: i % 3 === 0 ? "order.paid" : "order.created",
      }));
    const first = mk(agent, 200);
    log.push(...first);
    await appendAll(seq, first, 100);
    const customers = follow(
      seq,
      { ...streamOf(agent), filter: { entityType: "customer", eventTypes: ["order.paid"] } },
      { until: 600n, keepEvents: true },
    );
    const fromOther = follow(
      seq,
      { ...streamOf(agent), heartbeatIntervalMs: 50, filter: { sourceAgentIds: [other.agentId] } },
      { until: 600n, keepEvents: true },
    );
    for (let i = 0; i < 4; i++) {
      const batch = mk(i % 2 === 0 ? other : agent, 100);
      log.push(...batch);
      await appendAll(seq, batch, 100);
    }
    const ids = (r: Received) => r.events.map((e) => e.event?.eventId);
    expect(ids(await customers)).toEqual(
      log.filter((e) => e.entityType === "customer" && e.eventType === "order.paid").map((e) => e.eventId),
    );
    expect(ids(await fromOther)).toEqual(
      log.filter((e) => e.sourceAgentId === other.agentId).map((e) => e.eventId),
    );
  });

  it("sends heartbeats with the head on a quiet stream, also one with no events yet", async () => {
    const agent = await newAgent();
    await appendAll(seq, events(agent, 5));
    // The first message of a subscription at the head is a heartbeat (until 0: stop after one message).
    const quiet = await follow(
      seq,
      { ...streamOf(agent), fromSequence: 6n, heartbeatIntervalMs: 60 },
      { until: 0n },
    );
    expect(quiet).toMatchObject({ sequences: [], heartbeats: 1, lastHead: 5n, nextSequence: 6n });
    const unknown = await follow(
      seq,
      {
        tenantId: crypto.randomUUID(),
        storeId: crypto.randomUUID(),
        fromSequence: 50n,
        heartbeatIntervalMs: 60,
      },
      { until: 0n },
    );
    expect(unknown).toMatchObject({ sequences: [], heartbeats: 1, lastHead: 0n, nextSequence: 50n });
  });

  it("is OUT_OF_RANGE past head + 1 and INVALID_ARGUMENT naming the field for bad requests", async () => {
    const agent = await newAgent();
    await appendAll(seq, events(agent, 3));
    const first = async (req: Parameters<typeof seq.subscribe>[0]) => {
      try {
        for await (const _ of seq.subscribe(req)) return undefined;
      } catch (e) {
        return ConnectError.from(e);
      }
      return undefined;
    };
    const out = await first({ ...streamOf(agent), fromSequence: 5n });
    expect(out?.code).toBe(Code.OutOfRange);
    expect(out?.rawMessage).toMatch(/expected at most 4.*got 5.*head is 3/);
    const hb = await first({ ...streamOf(agent), heartbeatIntervalMs: 10 });
    expect(hb?.code).toBe(Code.InvalidArgument);
    expect(hb?.findDetails(ErrorDetailSchema)[0]?.field).toBe("heartbeat_interval_ms");
    const bad = await first({ ...streamOf(agent), filter: { sourceAgentIds: ["x"] } });
    expect(bad?.findDetails(ErrorDetailSchema)[0]?.field).toBe("filter.source_agent_ids[0]");
    const tenant = await first({ tenantId: "nope", storeId: agent.storeId });
    expect(tenant?.findDetails(ErrorDetailSchema)[0]?.field).toBe("tenant_id");
  });

  it("serves 100 concurrent live subscribers while two writers ingest: each sees exactly 1..N", async () => {
    const a = await newAgent();
    const b = await newAgent(streamOf(a));
    const N = 2000;
    const subscribers = Array.from({ length: 100 }, () =>
      follow(seq, { ...streamOf(a), fromSequence: 1n }, { until: BigInt(N) }),
    );
    await sleep(200); // let them subscribe, so most of the stream reaches them live
    await Promise.all([appendAll(seq, events(a, N / 2), 50), appendAll(seq, events(b, N / 2), 50)]);
    for (const r of await Promise.all(subscribers)) expectExactRange(r.sequences, N);
  });
});

describe("sync Append stream", () => {
  it("pushes an agent's batches and receives the whole stream, others' events included", async () => {
    const me = await newAgent();
    const other = await newAgent(streamOf(me));
    const mine = events(me, 400);
    let received = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => {
      done = r;
    });
    async function* requests(): AsyncGenerator<AppendRequest> {
      yield {
        $typeName: "ves.sequencer.v1.AppendRequest",
        receiptUpgrades: false,
        anchorUpgrades: false,
        batchId: "",
        events: [],
        subscription: { ...streamOf(me), fromSequence: 1n, $typeName: "ves.sequencer.v1.SubscribeRequest" },
      };
      for (let i = 0; i < mine.length; i += 50) {
        yield {
          $typeName: "ves.sequencer.v1.AppendRequest",
          receiptUpgrades: false,
          anchorUpgrades: false,
          batchId: `b${i}`,
          events: mine.slice(i, i + 50).map(signedEventToProto),
        };
        await sleep(5);
      }
      await finished; // keep the request side open until everything arrived
    }
    const writing = appendAll(seq, events(other, 400), 40);
    const sequences: bigint[] = [];
    const batchIds: string[] = [];
    const hangUp = new AbortController();
    try {
      for await (const res of seq.append(requests(), { signal: hangUp.signal })) {
        if (res.kind.case === "batchResult") {
          expect(res.kind.value.error).toBeUndefined();
          expect(res.kind.value.acceptedCount).toBe(50);
          batchIds.push(res.kind.value.batchId);
        } else if (res.kind.case === "events") {
          for (const e of res.kind.value.events) sequences.push(e.receipt?.sequenceNumber ?? -1n);
          received = sequences.length;
        }
        if (received >= 800 && batchIds.length === 8) hangUp.abort();
      }
    } catch (err) {
      if (!hangUp.signal.aborted) throw err;
    }
    done();
    await writing;
    expect(batchIds).toEqual(Array.from({ length: 8 }, (_, i) => `b${i * 50}`));
    expectExactRange(sequences, 800);
  });

  it("refuses a second subscription on one stream, naming the field", async () => {
    const me = await newAgent();
    const sub = {
      ...streamOf(me),
      $typeName: "ves.sequencer.v1.SubscribeRequest" as const,
      fromSequence: 0n,
      filter: undefined,
    };
    async function* requests(): AsyncGenerator<AppendRequest> {
      yield {
        $typeName: "ves.sequencer.v1.AppendRequest",
        batchId: "",
        events: [],
        receiptUpgrades: false,
        anchorUpgrades: false,
        subscription: sub,
      };
      yield {
        $typeName: "ves.sequencer.v1.AppendRequest",
        batchId: "",
        events: [],
        receiptUpgrades: false,
        anchorUpgrades: false,
        subscription: sub,
      };
    }
    const err = await (async () => {
      for await (const _ of seq.append(requests()));
    })().catch((e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.findDetails(ErrorDetailSchema)[0]?.field).toBe("subscription");
  });
});

describe("limits and failures", () => {
  it("ends a subscriber that falls too far behind with RESOURCE_EXHAUSTED and a clear message", async () => {
    const strict = await startTestSequencer(db.url, {
      SUBSCRIBER_MAX_LAG_EVENTS: "500",
      SUBSCRIBER_BUFFER_EVENTS: "50",
    });
    try {
      const client = clientFor(strict.url);
      const agent = await newAgent();
      await appendAll(client, events(agent, 10));
      const err = await (async () => {
        let paused = false;
        for await (const res of client.subscribe({ ...streamOf(agent), fromSequence: 1n })) {
          if (res.kind.case === "events" && !paused) {
            paused = true; // caught up: now stop reading while 4000 events are committed
            await appendAll(client, events(agent, 4000), 500);
          }
        }
      })().catch((e: unknown) => ConnectError.from(e));
      expect(err?.code).toBe(Code.ResourceExhausted);
      expect(err?.rawMessage).toMatch(
        /fell \d+ events behind the head \(4010\).*500 allowed.*resume from sequence \d+/,
      );
    } finally {
      await strict.stop();
    }
  });

  it("still delivers every event when this instance's notifications are lost (LISTEN connection killed)", async () => {
    const reader = await startTestSequencer(db.url, { SUBSCRIBE_POLL_INTERVAL_MS: "200" });
    const writer = await startTestSequencer(db.url);
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const agent = await newAgent();
      const following = follow(
        clientFor(reader.url),
        { ...streamOf(agent), fromSequence: 1n },
        { until: 600n },
      );
      await sleep(200);
      const killed = await sql`
        select pg_terminate_backend(pid) as ok from pg_stat_activity
        where datname = current_database() and query ilike 'listen%'`;
      expect(killed.length).toBeGreaterThan(0); // every instance's LISTEN connection is gone
      await appendAll(clientFor(writer.url), events(agent, 600), 100);
      expectExactRange((await following).sequences, 600);
    } finally {
      await sql.end();
      await writer.stop();
      await reader.stop();
    }
  });

  it("ends subscriptions with UNAVAILABLE when the server shuts down", async () => {
    const doomed = await startTestSequencer(db.url);
    const client = clientFor(doomed.url);
    const agent = await newAgent();
    await appendAll(client, events(agent, 20));
    const r = { sequences: [] as bigint[], events: [], heartbeats: 0, lastHead: 0n, nextSequence: 0n };
    const following = follow(client, { ...streamOf(agent) }, { until: 1000n }, r).catch((e: unknown) => e);
    while (r.sequences.length < 20) await sleep(20);
    await doomed.stop();
    const err = ConnectError.from(await following);
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/shutting down; resume from sequence 21/);
  });
});
