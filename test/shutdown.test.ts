// Graceful shutdown of a sequencer process: SIGTERM while pipelined Append batches are in flight drains what was
// read (every committed batch answered, in order), ends the stream with UNAVAILABLE "shutting down", exits 0
// promptly, and leaves every acknowledged event in PostgreSQL; afterwards nothing accepts connections.
import http from "node:http";
import net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { sodiumEd25519 } from "../src/crypto/native.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { makeBatch, openAppendSession, receiptsOf } from "./support/appendSession.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import {
  type SequencerProcess,
  spawnSequencer,
  startTestSequencer,
  TEST_ADMIN_KEY,
  testIdentity,
  withCredential,
} from "./support/sequencer.js";
import { expectGapFree, expectReceiptMatches, readStream } from "./support/streamLog.js";

const identity = testIdentity();
const sequencerKey = sodiumEd25519.getPublicKey(Buffer.from(identity.SEQUENCER_SIGNING_KEY, "hex"));
/** How long the process may take from SIGTERM to exit. */
const EXIT_WITHIN_MS = 5_000;

let db: TestDatabase;
let sql: postgres.Sql;
let server: SequencerProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  if (server?.child.exitCode === null && server.child.signalCode === null) await server.kill("SIGKILL");
  await sql?.end({ timeout: 1 });
  await db?.drop();
});

it("SIGTERM with batches in flight: answers what was read, ends with UNAVAILABLE, exits 0, loses nothing", async () => {
  const proc = await spawnSequencer(db.url, {
    ...identity,
    MIGRATE_ON_START: "true",
    DB_POOL_MAX: "4",
    CRYPTO_WORKERS: "1",
    SHUTDOWN_TIMEOUT_MS: "15000",
  });
  server = proc;
  const agent = createAgent();
  await registerAgent(
    createClient(
      KeyRegistryService,
      createGrpcTransport({ baseUrl: proc.url, interceptors: [withCredential(TEST_ADMIN_KEY)] }),
    ),
    agent,
  );

  const batches = Array.from({ length: 30 }, (_, i) => makeBatch(agent, [40, 200, 1, 120, 75][i % 5] ?? 1));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.child.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const session = openAppendSession(proc.url);
  let termAt = 0;
  let answeredAtTerm = -1;
  session.onResult = (_result, index) => {
    if (index === 0) {
      termAt = performance.now();
      answeredAtTerm = session.results.length;
      proc.child.kill("SIGTERM");
    }
  };
  // Every batch at once, and the request side left open: only the shutdown can end this stream.
  for (const b of batches) session.send(b.request);

  const end = await session.ended;
  const exit = await exited;
  expect(exit).toMatchObject({ code: 0, signal: null });
  expect(exit.at - termAt).toBeLessThan(EXIT_WITHIN_MS);

  // The stream ended with the documented status, not a reset or a plain OK.
  expect(end).toBeInstanceOf(ConnectError);
  expect({ code: end?.code === undefined ? undefined : Code[end.code], message: end?.rawMessage }).toEqual({
    code: Code[Code.Unavailable],
    message: expect.stringMatching(/shutting down/),
  });

  // The answers are the batches in send order, each fully sequenced; the batches read before the signal
  // were still answered after it, and the shutdown cut the stream short of the last batches.
  const answered = session.results;
  expect(answered.map((r) => r.batchId)).toEqual(batches.slice(0, answered.length).map((b) => b.batchId));
  expect(answered.length).toBeGreaterThan(answeredAtTerm);
  expect(answered.length).toBeLessThan(batches.length);

  // The log holds exactly the answered batches: nothing the server read and committed went unanswered, and
  // every acknowledged event is there with the receipt the client got.
  const stream = await readStream(sql, agent.tenantId, agent.storeId);
  expectGapFree(stream);
  const answeredEvents = batches.slice(0, answered.length).flatMap((b) => b.events);
  expect(stream.events.map((e) => e.eventId)).toEqual(answeredEvents.map((e) => e.eventId));
  for (const [i, result] of answered.entries()) {
    const rs = receiptsOf(result);
    expect(rs.every((r) => !r.replayed)).toBe(true);
    for (const [k, { receipt }] of rs.entries()) {
      const e = batches[i]?.events[k];
      expect(receipt.eventId).toBe(e?.eventId);
      expectReceiptMatches(
        receipt,
        e?.signingHash ?? new Uint8Array(),
        sequencerKey,
        stream.events[Number(receipt.sequenceNumber) - 1],
      );
    }
  }

  // Nothing listens any more: neither a fresh gRPC connection nor a bare TCP connect gets through.
  const sessionManager = new Http2SessionManager(proc.url);
  const fresh = createClient(
    SequencerService,
    createGrpcTransport({
      baseUrl: proc.url,
      sessionManager,
      interceptors: [withCredential(TEST_ADMIN_KEY)],
    }),
  );
  const err = await fresh.getSequencerInfo({}).then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  sessionManager.abort();
  expect(err?.code).toBe(Code.Unavailable);
  const tcp = await new Promise<string>((resolve) => {
    const s = net.connect(proc.port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  expect(tcp).toBe("ECONNREFUSED");
});

it("does not wait for idle keep-alive connections or for a refused request's unread body", async () => {
  const server = await startTestSequencer(db.url, { MAX_MESSAGE_BYTES: "65536" });
  // An idle HTTP/1.1 keep-alive connection.
  const agent = new http.Agent({ keepAlive: true });
  const status = await new Promise<number | undefined>((resolve, reject) => {
    http
      .get(`${server.url}/healthz`, { agent }, (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode));
      })
      .once("error", reject);
  });
  expect(status).toBe(200);
  // An HTTP/2 request refused for its size before its body was read, the client still holding the stream.
  const sessionManager = new Http2SessionManager(server.url);
  const client = createClient(
    SequencerService,
    createGrpcTransport({
      baseUrl: server.url,
      sessionManager,
      interceptors: [withCredential(TEST_ADMIN_KEY)],
    }),
  );
  const big = { batchId: "big", events: [{ eventId: "x".repeat(100_000) }] } as never;
  const err = await client.appendBatch(big).then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err?.code).toBe(Code.ResourceExhausted);
  const started = performance.now();
  await server.stop();
  expect(performance.now() - started).toBeLessThan(2_000);
  agent.destroy();
  sessionManager.abort();
});
