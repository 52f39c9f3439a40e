// Bounded connections and fair admission: idle Append streams hold no shared batch slot (64+ of one tenant's
// idle streams do not slow another tenant's AppendBatch), idle streams and connections are closed after their
// timeout, a peer that does not answer HTTP/2 pings is dropped, and connections past MAX_CONNECTIONS are refused.
import http2 from "node:http2";
import net from "node:net";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { type AppendSession, makeBatch, openAppendSession } from "./support/appendSession.js";
import { createTestApiKey } from "./support/auth.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
const servers: Sequencer[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  await db?.drop();
});

async function start(env: Record<string, string>): Promise<Sequencer> {
  const s = await startTestSequencer(db.url, env);
  servers.push(s);
  return s;
}

/** Resolves with the ms it took `emitter` to emit `event`, or rejects after `timeoutMs`. */
function within(emitter: NodeJS.EventEmitter, event: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
  });
}

describe("admission", () => {
  it("70 idle Append streams of tenant A do not delay tenant B's AppendBatch", async () => {
    const server = await start({ MAX_CONCURRENT_BATCHES: "64" });
    const admin = testTransport(server.url);
    const a = createAgent();
    const b = createAgent();
    await registerAgent(createClient(KeyRegistryService, admin), b);
    const keyA = await createTestApiKey(admin, { tenantId: a.tenantId, perms: ["write"] });
    const idle: AppendSession[] = Array.from({ length: 70 }, () =>
      openAppendSession(server.url, keyA.secret),
    );
    try {
      // Let every stream reach its handler (each now waits for its first batch).
      await new Promise((r) => setTimeout(r, 1_000));
      const res = await createClient(SequencerService, admin).appendBatch(
        { batchId: "b-1", events: makeBatch(b, 5).request.events },
        { timeoutMs: 8_000 },
      );
      // Before the fix the idle streams held every slot and this call never got one (DEADLINE_EXCEEDED).
      expect(res.result?.results.map((r) => r.outcome.case)).toEqual(Array(5).fill("receipt"));
    } finally {
      for (const s of idle) s.abort();
    }
  }, 30_000);
});

describe("idle timeouts", () => {
  let server: Sequencer;
  beforeAll(async () => {
    server = await start({
      APPEND_IDLE_TIMEOUT_MS: "400",
      CONNECTION_IDLE_TIMEOUT_MS: "400",
      KEEPALIVE_INTERVAL_MS: "0",
    });
  });

  it("ends an Append stream that sends nothing with UNAVAILABLE, after answering what it sent", async () => {
    const agent = createAgent();
    await registerAgent(createClient(KeyRegistryService, testTransport(server.url)), agent);
    const session = openAppendSession(server.url);
    session.send(makeBatch(agent, 2).request);
    const t0 = performance.now();
    const end = await session.ended;
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(end?.code).toBe(Code.Unavailable);
    expect(end?.rawMessage).toMatch(/no message for 400 ms: the stream was closed as idle/);
    expect(session.results.map((r) => r.results.length)).toEqual([2]);
  }, 20_000);

  it("closes an HTTP/2 connection with no stream (GOAWAY) and a socket that never speaks", async () => {
    const client = http2.connect(server.url);
    client.on("error", () => {});
    expect(await within(client, "close", 3_000)).toBeGreaterThan(300);
    const silent = net.connect(server.address.port, "127.0.0.1").resume();
    expect(await within(silent, "close", 3_000)).toBeGreaterThan(300);
  });
});

describe("keep-alive and the connection bound", () => {
  let server: Sequencer;
  beforeAll(async () => {
    server = await start({
      CONNECTION_IDLE_TIMEOUT_MS: "0",
      KEEPALIVE_INTERVAL_MS: "200",
      KEEPALIVE_TIMEOUT_MS: "300",
      MAX_CONNECTIONS: "4",
    });
  });

  it("drops an HTTP/2 peer that does not answer pings, and keeps one that does", async () => {
    const answering = http2.connect(server.url);
    answering.on("error", () => {});
    // A peer that speaks HTTP/2 once (preface and SETTINGS) and then never answers anything.
    const mute = net.connect(server.address.port, "127.0.0.1", () => {
      mute.write(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
      mute.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
    });
    mute.on("error", () => {});
    mute.resume();
    expect(await within(mute, "close", 3_000)).toBeGreaterThan(400);
    expect(answering.closed || answering.destroyed).toBe(false);
    const closed = within(answering, "close", 3_000);
    answering.close();
    await closed;
  });

  it("refuses connections past MAX_CONNECTIONS and accepts again once one closes", async () => {
    const held = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const c = http2.connect(server.url);
        c.on("error", () => {});
        await within(c, "connect", 3_000);
        return c;
      }),
    );
    const fifth = net.connect(server.address.port, "127.0.0.1").resume();
    fifth.on("error", () => {});
    expect(await within(fifth, "close", 2_000)).toBeLessThan(1_000);
    expect(held.every((c) => !c.closed && !c.destroyed)).toBe(true);
    (held.pop() as http2.ClientHttp2Session).destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = http2.connect(server.url);
    again.on("error", () => {});
    await within(again, "connect", 3_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(again.closed || again.destroyed).toBe(false);
    for (const c of [...held, again]) c.destroy();
  });
});
