// End to end over real sockets with the connect-node clients, all on the sequencer's one port: gRPC over HTTP/2
// (pipelined bidi Append), the Connect protocol (JSON) and gRPC-Web over HTTP/1.1 as a browser would use them,
// the plain HTTP health routes, and the request-size limit (MAX_MESSAGE_BYTES) answered with RESOURCE_EXHAUSTED.

import http from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import {
  AppendBatchRequestSchema,
  type AppendRequest,
  AppendRequestSchema,
  type AppendResponse,
  SequencerService,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../../src/client/signEvent.js";
import { signedEventToProto } from "../../src/client/toProto.js";
import type { Sequencer } from "../../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "../support/agent.js";
import { batchResultOf } from "../support/batchResult.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testIdentity, withCredential } from "../support/sequencer.js";

const auth = withCredential(TEST_ADMIN_KEY);

import { assertBatchReceipts, type ExpectedSequencer } from "./assertBatchReceipts.js";

/** A keep-alive HTTP/1.1 agent that counts the TCP connections it opens, to prove which stack carried a call. */
class CountingHttp1Agent extends http.Agent {
  connections = 0;
  override createConnection(
    ...args: Parameters<http.Agent["createConnection"]>
  ): ReturnType<http.Agent["createConnection"]> {
    this.connections++;
    return super.createConnection(...args);
  }
}

/**
 * Runs `f` with a fresh counting agent and destroys it afterwards: the server's stop() does not close idle
 * HTTP/1.1 keep-alive connections (reported), so a socket left open would hold it until the keep-alive timeout.
 */
async function withHttp1Agent<T>(f: (agent: CountingHttp1Agent) => Promise<T>): Promise<T> {
  const agent = new CountingHttp1Agent({ keepAlive: true });
  try {
    return await f(agent);
  } finally {
    agent.destroy();
  }
}

const SMALL_MESSAGE_LIMIT = 65_536;

let db: TestDatabase;
let server: Sequencer;
/** A second instance on the same database with a small MAX_MESSAGE_BYTES. */
let small: Sequencer;
/**
 * The HTTP/2 connection to `small`, closed before it stops: after refusing an oversized request the server
 * leaves that request's stream open, and a graceful stop would wait SHUTDOWN_TIMEOUT_MS for it (reported).
 */
let smallSessions: Http2SessionManager;
let smallGrpc: Client<typeof SequencerService>;
let sql: postgres.Sql;
let grpc: Client<typeof SequencerService>;
let keys: Client<typeof KeyRegistryService>;
let sequencer: ExpectedSequencer;
const identity = testIdentity();

beforeAll(async () => {
  db = await createTestDatabase("ves_e2e_connect");
  // One identity for both instances, so every receipt verifies against one key.
  server = await startTestSequencer(db.url, identity);
  small = await startTestSequencer(db.url, { ...identity, MAX_MESSAGE_BYTES: String(SMALL_MESSAGE_LIMIT) });
  smallSessions = new Http2SessionManager(small.url);
  smallGrpc = createClient(
    SequencerService,
    createGrpcTransport({ baseUrl: small.url, sessionManager: smallSessions, interceptors: [auth] }),
  );
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
  const transport = createGrpcTransport({ baseUrl: server.url, interceptors: [auth] });
  grpc = createClient(SequencerService, transport);
  keys = createClient(KeyRegistryService, transport);
  const info = await grpc.getSequencerInfo({});
  const current = info.signingKeys.find((k) => k.current);
  expect(current?.keyId).toBe(server.keyId);
  sequencer = {
    sequencerId: info.sequencerId,
    keyId: current?.keyId ?? "",
    publicKey: current?.publicKey ?? new Uint8Array(),
  };
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  smallSessions?.abort();
  await small?.stop();
  await server?.stop();
  await db?.drop();
});

async function newAgent(): Promise<TestAgent> {
  const agent = createAgent();
  await registerAgent(keys, agent);
  return agent;
}

async function storedSequences(agent: TestAgent): Promise<bigint[]> {
  const rows = await sql<{ s: string }[]>`
    select sequence_number::text as s from events
    where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId} order by sequence_number`;
  return rows.map((r) => BigInt(r.s));
}

async function errorOf(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected the call to fail").toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe("gRPC over HTTP/2 (createGrpcTransport)", () => {
  it("pipelines batches on the bidi Append stream and answers each, in order, with verifiable receipts", async () => {
    const agent = await newAgent();
    const batches = Array.from({ length: 6 }, (_, b) => ({
      batchId: `connect-${b}`,
      events: Array.from({ length: 5 }, () => agent.event()),
    }));
    const responses: AppendResponse[] = [];
    let sent = 0;
    let sentAtFirstResponse: number | undefined;
    async function* requests(): AsyncGenerator<AppendRequest> {
      for (const b of batches) {
        yield create(AppendRequestSchema, { batchId: b.batchId, events: b.events.map(signedEventToProto) });
        sent++;
      }
    }
    for await (const r of grpc.append(requests())) {
      sentAtFirstResponse ??= sent;
      responses.push(r);
    }
    // More than one batch was on the wire before the first answer: the stream is pipelined.
    expect(sentAtFirstResponse).toBeGreaterThanOrEqual(2);
    expect(responses.map((r) => batchResultOf(r)?.batchId)).toEqual(batches.map((b) => b.batchId));
    let next = 1n;
    for (const [i, r] of responses.entries()) {
      const b = batches[i] as { batchId: string; events: SignedEvent[] };
      assertBatchReceipts(batchResultOf(r), b.events, next, sequencer, b.batchId);
      next += BigInt(b.events.length);
    }
    expect(await storedSequences(agent)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
  });
});

describe("HTTP/1.1 on the same port, as browsers reach it", () => {
  it("serves the Connect protocol (JSON) over HTTP/1.1: AppendBatch then GetHead", () =>
    withHttp1Agent(async (h1) => {
      const transport: Transport = createConnectTransport({
        baseUrl: server.url,
        httpVersion: "1.1",
        useBinaryFormat: false,
        nodeOptions: { agent: h1 },
        interceptors: [auth],
      });
      const client = createClient(SequencerService, transport);
      const agent = await newAgent();
      const events = [agent.event(), agent.event(), agent.event()];
      const res = await client.appendBatch({
        batchId: "connect-json",
        events: events.map(signedEventToProto),
      });
      assertBatchReceipts(res.result, events, 1n, sequencer, "connect-json");
      const head = await client.getHead({ tenantId: agent.tenantId, storeId: agent.storeId });
      expect(head.headSequence).toBe(3n);
      expect(head.tenantId).toBe(agent.tenantId);
      // The calls really went through node:http's HTTP/1.1 client.
      expect(h1.connections).toBeGreaterThan(0);
    }));

  it("serves gRPC-Web over HTTP/1.1: GetSequencerInfo, AppendBatch, GetHead", () =>
    withHttp1Agent(async (h1) => {
      const client = createClient(
        SequencerService,
        createGrpcWebTransport({
          baseUrl: server.url,
          httpVersion: "1.1",
          nodeOptions: { agent: h1 },
          interceptors: [auth],
        }),
      );
      const info = await client.getSequencerInfo({});
      expect(info.protocolVersion).toBe("VES/1.0");
      expect(info.sequencerId).toBe(sequencer.sequencerId);
      expect(Buffer.from(info.signingKeys[0]?.publicKey ?? []).equals(sequencer.publicKey)).toBe(true);
      const agent = await newAgent();
      const events = [agent.event(), agent.event()];
      const res = await client.appendBatch({ batchId: "grpc-web", events: events.map(signedEventToProto) });
      assertBatchReceipts(res.result, events, 1n, sequencer, "grpc-web");
      expect((await client.getHead({ tenantId: agent.tenantId, storeId: agent.storeId })).headSequence).toBe(
        2n,
      );
      expect(h1.connections).toBeGreaterThan(0);
    }));

  it("answers GET /healthz and /readyz with 200 over HTTP/1.1 (fetch), and 404 for unknown paths", async () => {
    // "connection: close" so no idle keep-alive socket is left behind: the server's stop() does not close idle
    // HTTP/1.1 connections (reported) and would wait for the client to drop it.
    const get = (path: string) => fetch(`${server.url}${path}`, { headers: { connection: "close" } });
    const health = await get("/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await get("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    const missing = await get("/no-such-route");
    expect(missing.status).toBe(404);
    await missing.text();
  });
});

describe("MAX_MESSAGE_BYTES", () => {
  /** One event whose payload alone pushes the request past the small instance's limit. */
  function oversizedBatch(agent: TestAgent): { events: SignedEvent[]; bytes: number } {
    const events = [agent.event({ payload: { blob: "x".repeat(SMALL_MESSAGE_LIMIT) } })];
    const bytes = toBinary(
      AppendBatchRequestSchema,
      create(AppendBatchRequestSchema, { batchId: "big", events: events.map(signedEventToProto) }),
    ).length;
    return { events, bytes };
  }

  it("is reported by GetSequencerInfo", async () => {
    const info = await smallGrpc.getSequencerInfo({});
    expect(info.limits?.maxMessageBytes).toBe(SMALL_MESSAGE_LIMIT);
  });

  it("refuses a larger unary AppendBatch with RESOURCE_EXHAUSTED (gRPC and Connect) and writes nothing", async () => {
    const agent = await newAgent();
    const { events, bytes } = oversizedBatch(agent);
    expect(bytes).toBeGreaterThan(SMALL_MESSAGE_LIMIT);
    const req = { batchId: "big", events: events.map(signedEventToProto) };
    const overGrpc = await errorOf(smallGrpc.appendBatch(req));
    expect(overGrpc.code).toBe(Code.ResourceExhausted);
    expect(overGrpc.rawMessage).toContain(String(SMALL_MESSAGE_LIMIT));
    const overConnect = await withHttp1Agent((h1) =>
      errorOf(
        createClient(
          SequencerService,
          createConnectTransport({
            baseUrl: small.url,
            httpVersion: "1.1",
            nodeOptions: { agent: h1 },
            interceptors: [auth],
          }),
        ).appendBatch(req),
      ),
    );
    expect(overConnect.code).toBe(Code.ResourceExhausted);
    expect(overConnect.rawMessage).toContain(String(SMALL_MESSAGE_LIMIT));
    expect(await storedSequences(agent)).toEqual([]);
    // Control: the same batch fits the default limit, so the size and nothing else was the reason.
    const res = await grpc.appendBatch(req);
    assertBatchReceipts(res.result, events, 1n, sequencer, "big");
  });

  it("fails an Append stream at a message over the limit, after answering the batch before it", async () => {
    const agent = await newAgent();
    const good = [agent.event(), agent.event()];
    const { events: big } = oversizedBatch(agent);
    const responses: AppendResponse[] = [];
    async function* requests(): AsyncGenerator<AppendRequest> {
      yield create(AppendRequestSchema, { batchId: "fits", events: good.map(signedEventToProto) });
      yield create(AppendRequestSchema, { batchId: "too-big", events: big.map(signedEventToProto) });
    }
    const err = await errorOf(
      (async () => {
        for await (const r of smallGrpc.append(requests())) responses.push(r);
      })(),
    );
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain(String(SMALL_MESSAGE_LIMIT));
    expect(responses.map((r) => batchResultOf(r)?.batchId)).toEqual(["fits"]);
    assertBatchReceipts(batchResultOf(responses[0]), good, 1n, sequencer, "fits");
    expect(await storedSequences(agent)).toEqual([1n, 2n]);
  });
});
