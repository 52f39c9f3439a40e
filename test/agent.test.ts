// The SDK producer (createAgent) against the real server: verified receipts, typed rejections, backpressure,
// sealed proofs, a receipt tampered on the wire and a wrong pinned key refused, and a server SIGKILLed and
// restarted mid-stream: every append settles exactly once and the stream holds each event once, in order.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import type { AppendResponse } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { AgentError } from "../src/client/agentError.js";
import type { AppendResult } from "../src/client/createAgent.js";
import { sodiumEd25519 } from "../src/crypto/native.js";
import { freePort } from "../src/infra/freePort.js";
import type { Sequencer } from "../src/main.js";
import { createAgent } from "../src/node/createAgent.js";
import {
  createAgent as createTestAgent,
  producerOptions,
  registerAgent,
  type TestAgent,
} from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import {
  type SequencerProcess,
  spawnSequencer,
  startTestSequencer,
  TEST_ADMIN_KEY,
  testIdentity,
  testTransport,
  withCredential,
} from "./support/sequencer.js";
import { expectGapFree, readStream } from "./support/streamLog.js";

let db: TestDatabase;
let sql: postgres.Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await db?.drop();
});

function agentOptions(a: TestAgent, sequencerKey: Uint8Array) {
  return producerOptions(a, sequencerKey);
}

const event = (i: number) => ({
  entityType: "order",
  entityId: `o-${i}`,
  eventType: "order.created",
  payload: { i },
});

describe("against an in-process server", () => {
  let server: Sequencer;
  let sequencerKey: Uint8Array;
  let keys: ReturnType<typeof createClient<typeof KeyRegistryService>>;

  beforeAll(async () => {
    server = await startTestSequencer(db.url, { COMMIT_MAX_AGE_MS: "100" });
    keys = createClient(KeyRegistryService, testTransport(server.url));
    sequencerKey = server.publicKey;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("batches, pipelines and resolves every append with a verified receipt, in order", async () => {
    const a = createTestAgent();
    await registerAgent(keys, a);
    const agent = createAgent({
      url: server.url,
      ...agentOptions(a, sequencerKey),
      batchSize: 50,
      lingerMs: 2,
    });
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => {
        const p = agent.append(event(i));
        peak = Math.max(peak, agent.stats().inFlightBatches);
        return p;
      }),
    );
    await agent.close();
    expect(results.map((r) => r.receipt.sequenceNumber)).toEqual(
      Array.from({ length: 1000 }, (_, i) => BigInt(i + 1)),
    );
    expect(results.every((r) => !r.replayed && r.receipt.eventId === r.event.eventId)).toBe(true);
    expect(peak).toBe(4); // several batches in flight on one stream
    const log = await readStream(sql, a.tenantId, a.storeId);
    expectGapFree(log);
    expect(log.events.map((e) => e.eventId)).toEqual(results.map((r) => r.event.eventId));
    expect(agent.stats()).toMatchObject({ acknowledged: 1000, failed: 0, buffered: 0 });
    await expect(agent.append(event(0))).rejects.toMatchObject({ reason: "closed" });
  });

  it("names the reason of a rejection, and keeps going after it", async () => {
    const a = createTestAgent();
    await registerAgent(keys, a);
    const agent = createAgent({ url: server.url, ...agentOptions(a, sequencerKey) });
    const first = agent.append({ ...event(1), baseVersion: 0n });
    const conflict = agent.append({ ...event(1), baseVersion: 5n });
    const after = agent.append(event(2));
    expect((await first).receipt.sequenceNumber).toBe(1n);
    const err = await conflict.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toMatchObject({ reason: "rejected", rejection: "version_conflict", field: "base_version" });
    expect((await after).receipt.sequenceNumber).toBe(2n);
    await agent.close();

    const unknown = createTestAgent(); // never registered
    const stranger = createAgent({ url: server.url, ...agentOptions(unknown, sequencerKey) });
    await expect(stranger.append(event(1))).rejects.toMatchObject({
      reason: "rejected",
      rejection: "unknown_key",
    });
    await stranger.close();
  });

  it("holds at most bufferEvents unsettled; further appends wait their turn in order", async () => {
    const a = createTestAgent();
    await registerAgent(keys, a);
    const agent = createAgent({
      url: server.url,
      ...agentOptions(a, sequencerKey),
      bufferEvents: 20,
      batchSize: 7,
    });
    let peak = 0;
    const results: Promise<AppendResult>[] = [];
    for (let i = 0; i < 200; i++) {
      results.push(agent.append(event(i)));
      const s = agent.stats();
      peak = Math.max(peak, s.buffered);
    }
    expect(agent.stats().waiting).toBe(180);
    const ready = agent.ready();
    const done = await Promise.all(results);
    await ready;
    expect(peak).toBe(20);
    expect(done.map((r) => r.receipt.sequenceNumber)).toEqual(
      Array.from({ length: 200 }, (_, i) => BigInt(i + 1)),
    );
    await agent.close();
  });

  it("fulfils `sealed` with a verified inclusion proof and checkpoint", async () => {
    const a = createTestAgent();
    await registerAgent(keys, a);
    const agent = createAgent({ url: server.url, ...agentOptions(a, sequencerKey), receiptUpgrades: true });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => agent.append(event(i))));
    const sealed = await Promise.all(results.map((r) => r.sealed));
    for (const [i, s] of sealed.entries()) {
      expect(s?.proof.eventId).toBe(results[i]?.event.eventId);
      expect(s?.checkpoint.sequenceEnd).toBeGreaterThanOrEqual(results[i]?.receipt.sequenceNumber ?? 0n);
    }
    await agent.close();
  });

  it("refuses receipts that do not verify: a wrong pinned key, a sequence number changed on the wire", async () => {
    const a = createTestAgent();
    await registerAgent(keys, a);
    const wrongKey = sodiumEd25519.getPublicKey(new Uint8Array(32).fill(9));
    const fooled = createAgent({ url: server.url, ...agentOptions(a, wrongKey) });
    const e1 = await fooled.append(event(1)).catch((e: unknown) => e);
    expect(e1).toMatchObject({ reason: "bad_receipt", code: "bad_signature" });
    await fooled.close();

    // A man in the middle that moves every receipt one sequence number up.
    const tamper: Interceptor = (next) => async (req) => {
      const res = await next(req);
      if (!res.stream) return res;
      const message = (async function* () {
        for await (const m of res.message as AsyncIterable<AppendResponse>) {
          if (m.kind.case === "batchResult") {
            for (const r of m.kind.value.results) {
              if (r.outcome.case === "receipt") r.outcome.value.sequenceNumber += 1n;
            }
          }
          yield m;
        }
      })();
      return { ...res, message } as typeof res;
    };
    const transport = createGrpcTransport({ baseUrl: server.url, interceptors: [tamper] });
    const tampered = createAgent({ transport, ...agentOptions(a, sequencerKey) });
    const e2 = await tampered.append(event(2)).catch((e: unknown) => e);
    expect(e2).toMatchObject({ reason: "bad_receipt", code: "receipt_hash_mismatch" });
    await tampered.close();
    // Both events are in the log all the same: refusing is the client's verdict on the server's answer.
    expect((await readStream(sql, a.tenantId, a.storeId)).events).toHaveLength(2);
  });

  it("stops with a typed error when the credential is refused", async () => {
    const a = createTestAgent();
    await registerAgent(keys, a);
    const agent = createAgent({
      url: server.url,
      ...agentOptions(a, sequencerKey),
      credential: "ves_000000000000_nope",
    });
    await expect(agent.append(event(1))).rejects.toMatchObject({ reason: "unauthenticated" });
    await expect(agent.append(event(2))).rejects.toMatchObject({ reason: "unauthenticated" });
  });
});

it("backs off exponentially with jitter, and gives up with a typed error past giveUpAfterMs", async () => {
  const a = createTestAgent();
  const delays: number[] = [];
  const agent = createAgent({
    url: `http://127.0.0.1:${await freePort()}`, // nothing listens there
    ...agentOptions(a, new Uint8Array(32).fill(1)),
    random: () => 0.5,
    reconnect: { initialDelayMs: 20, maxDelayMs: 80, giveUpAfterMs: 400 },
    onConnection: (e) => {
      if (e.type === "disconnected") delays.push(e.retryInMs);
    },
  });
  const err = await agent.append(event(1)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AgentError);
  expect(err).toMatchObject({ reason: "unavailable", code: "Unavailable" });
  // base = min(80, 20 * 2^attempt); delay = base/2 + random * base/2
  expect(delays.slice(0, 4)).toEqual([15, 30, 60, 60]);
  await expect(agent.append(event(2))).rejects.toMatchObject({ reason: "unavailable" });
});

describe("across a SIGKILLed server", () => {
  let proc: SequencerProcess | undefined;
  afterAll(async () => {
    await proc?.kill("SIGKILL");
  });

  it("settles every append exactly once, and the stream holds each event once, in append order", async () => {
    const identity = testIdentity();
    const sequencerKey = sodiumEd25519.getPublicKey(Buffer.from(identity.SEQUENCER_SIGNING_KEY, "hex"));
    const port = await freePort();
    const env = { ...identity, PORT: String(port), DB_POOL_MAX: "4", CRYPTO_WORKERS: "1" };
    proc = await spawnSequencer(db.url, env);
    const a = createTestAgent();
    await registerAgent(
      createClient(
        KeyRegistryService,
        createGrpcTransport({ baseUrl: proc.url, interceptors: [withCredential(TEST_ADMIN_KEY)] }),
      ),
      a,
    );
    const disconnects: number[] = [];
    const agent = createAgent({
      url: proc.url,
      ...agentOptions(a, sequencerKey),
      batchSize: 40,
      maxInFlight: 4,
      reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
      onConnection: (e) => {
        if (e.type === "disconnected") disconnects.push(e.retryInMs);
      },
    });
    const N = 2000;
    const settledCount = new Array<number>(N).fill(0);
    const outcomes: (AppendResult | undefined)[] = new Array(N);
    const all = Array.from({ length: N }, (_, i) =>
      agent.append(event(i)).then(
        (r) => {
          settledCount[i] = (settledCount[i] ?? 0) + 1;
          outcomes[i] = r;
        },
        () => {
          settledCount[i] = (settledCount[i] ?? 0) + 1;
        },
      ),
    );
    // Two kills while batches are in flight; the server comes back on the same port after a pause.
    for (const at of [400, 1200]) {
      while (agent.stats().acknowledged < at) await new Promise((r) => setTimeout(r, 2));
      await proc.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 300));
      proc = await spawnSequencer(db.url, env);
    }
    await Promise.all(all);
    await agent.close();
    expect(disconnects.length).toBeGreaterThanOrEqual(2);
    expect(settledCount.every((n) => n === 1)).toBe(true);
    expect(outcomes.every((r) => r !== undefined)).toBe(true); // none failed
    const log = await readStream(sql, a.tenantId, a.storeId);
    expectGapFree(log);
    expect(log.events.map((e) => e.eventId)).toEqual(outcomes.map((r) => r?.event.eventId));
    expect(outcomes.map((r) => r?.receipt.sequenceNumber)).toEqual(log.events.map((e) => e.sequenceNumber));
  }, 150_000);
});
