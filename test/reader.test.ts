// The SDK reader (createReader) against the real server: pull and subscribe deliver only events that re-verify
// (payload hash, agent signature through the key cache, receipt), and refuse a tampered one.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import type { PullEventsResponse, SubscribeResponse } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { createAgentKeyCache } from "../src/client/createAgentKeyCache.js";
import { createReader } from "../src/client/createReader.js";
import type { Sequencer } from "../src/main.js";
import { createAgent } from "../src/node/createAgent.js";
import {
  createAgent as createTestAgent,
  producerOptions,
  registerAgent,
  type TestAgent,
} from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let a: TestAgent;
let eventIds: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
  a = createTestAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(server.url)), a);
  const agent = createAgent({
    url: server.url,
    ...producerOptions(a, server.publicKey),
  });
  const rs = await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      agent.append({
        entityType: "order",
        entityId: `o-${i % 3}`,
        eventType: "order.created",
        payload: { i },
      }),
    ),
  );
  await agent.close();
  eventIds = rs.map((r) => r.event.eventId);
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

function reader(interceptors: Interceptor[] = []) {
  return createReader({
    transport: createGrpcTransport({ baseUrl: server.url, interceptors }),
    credential: TEST_ADMIN_KEY,
    tenantId: a.tenantId,
    storeId: a.storeId,
    sequencerKey: server.publicKey,
  });
}

/** Rewrites every response message of a call with `edit` (a man in the middle). */
function tamper<T>(method: string, edit: (m: T) => void): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    if (req.method.name !== method) return res;
    if (!res.stream) {
      edit(res.message as T);
      return res;
    }
    const message = (async function* () {
      for await (const m of res.message as AsyncIterable<T>) {
        edit(m);
        yield m;
      }
    })();
    return { ...res, message } as typeof res;
  };
}

it("pulls and subscribes to verified events, in order", async () => {
  const page = await reader().pull({ from: 1n, limit: 10 });
  expect(page.events.map((e) => e.event?.eventId)).toEqual(eventIds.slice(0, 10));
  expect(page.hasMore).toBe(true);
  const next = await reader().pull({ from: page.nextSequence, limit: 100 });
  expect(next.events.map((e) => e.event?.eventId)).toEqual(eventIds.slice(10));

  const ac = new AbortController();
  const seen: string[] = [];
  for await (const se of reader().subscribe({ from: 5n, signal: ac.signal })) {
    seen.push(se.event?.eventId ?? "");
    if (seen.length === 21) ac.abort();
  }
  expect(seen).toEqual(eventIds.slice(4));
});

it("refuses an event whose payload, signature or receipt was changed on the wire", async () => {
  const payload = tamper<PullEventsResponse>("PullEvents", (m) => {
    const e = m.events[3]?.event;
    if (e) e.payload = new TextEncoder().encode('{"i":999}');
  });
  await expect(reader([payload]).pull({ limit: 10 })).rejects.toMatchObject({
    reason: "bad_event",
    code: "payload_hash_mismatch",
    eventId: eventIds[3],
  });
  const signature = tamper<SubscribeResponse>("Subscribe", (m) => {
    if (m.kind.case !== "events") return;
    const e = m.kind.value.events[0]?.event;
    if (e) e.agentSignature = e.agentSignature.map((b, i) => (i === 0 ? b ^ 1 : b));
  });
  const it = reader([signature]).subscribe({ from: 1n })[Symbol.asyncIterator]();
  await expect(it.next()).rejects.toMatchObject({ reason: "bad_event", code: "bad_agent_signature" });
  const receipt = tamper<PullEventsResponse>("PullEvents", (m) => {
    const r = m.events[0]?.receipt;
    if (r) r.sequencerSignature = new Uint8Array(64);
  });
  await expect(reader([receipt]).pull({ limit: 1 })).rejects.toMatchObject({ code: "bad_receipt" });
  const reorder = tamper<PullEventsResponse>("PullEvents", (m) => {
    m.events.reverse();
  });
  await expect(reader([reorder]).pull({ limit: 5 })).rejects.toMatchObject({ code: "out_of_order" });
});

it("caches agent keys for the TTL and looks again for a key id it has not seen", async () => {
  let calls = 0;
  let t = 0;
  const count: Interceptor = (next) => (req) => {
    if (req.method.name === "ListAgentKeys") calls++;
    return next(req);
  };
  const cache = createAgentKeyCache({
    transport: createGrpcTransport({ baseUrl: server.url, interceptors: [count] }),
    headers: { authorization: `ApiKey ${TEST_ADMIN_KEY}` },
    ttlMs: 1000,
    now: () => t,
  });
  expect(await cache.get(a.tenantId, a.agentId, a.keyId)).toEqual(a.publicKey);
  expect(await cache.get(a.tenantId, a.agentId, a.keyId)).toEqual(a.publicKey);
  expect(calls).toBe(1);
  expect(await cache.get(a.tenantId, a.agentId, 77)).toBeUndefined();
  expect(calls).toBe(2);
  t = 1000;
  await cache.get(a.tenantId, a.agentId, a.keyId);
  expect(calls).toBe(3);
});
