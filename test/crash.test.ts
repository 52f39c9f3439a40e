// Crash safety of sequencing: SIGKILL a sequencer process while pipelined Append batches are in flight, then check
// in PostgreSQL that every acknowledged event kept its acknowledged sequence number, that batches are
// all-or-nothing and committed in send order, and that resending the unanswered batches to a new process
// yields a receipt for every event (replayed ones unchanged) over a stream that is still exactly 1..N.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Receipt } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { sodiumEd25519 } from "../src/crypto/native.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { makeBatch, openAppendSession, receiptsOf, type TestBatch } from "./support/appendSession.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import {
  type SequencerProcess,
  spawnSequencer,
  TEST_ADMIN_KEY,
  testIdentity,
  withCredential,
} from "./support/sequencer.js";
import {
  expectGapFree,
  expectReceiptMatches,
  type LoggedEvent,
  readStream,
  waitForOtherSessionsToEnd,
} from "./support/streamLog.js";

const identity = testIdentity();
const sequencerKey = sodiumEd25519.getPublicKey(Buffer.from(identity.SEQUENCER_SIGNING_KEY, "hex"));
const ENV = { ...identity, MIGRATE_ON_START: "true", DB_POOL_MAX: "4", CRYPTO_WORKERS: "1" };
/** Batch sizes 1..200, cycled. */
const SIZES = [1, 200, 17, 120, 3, 64, 95, 150, 40];
/** Unanswered batches the client keeps on the stream. */
const WINDOW = 8;

let db: TestDatabase;
// One connection, so "no other session" in pg_stat_activity means the killed server's sessions are gone.
let sql: postgres.Sql;
let server: SequencerProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  await server?.kill("SIGKILL");
  await sql?.end({ timeout: 1 });
  await db?.drop();
});

/** A batch as sent, with its receipts once the client received its answer. */
interface SentBatch extends TestBatch {
  receipts: Receipt[] | undefined;
}

/**
 * How the kill lands: "on-answer" SIGKILLs the moment the client reads the `killAfter`-th answer (answers
 * already on their way still count); "after-commit" then ignores further answers (as if they were lost on the
 * wire) and SIGKILLs as soon as the log shows a further batch committed, so that some unanswered batches are
 * certainly in the log.
 */
type KillMode = "on-answer" | "after-commit";

/**
 * Streams new batches pipelined (WINDOW unanswered at a time) and SIGKILLs the server after the
 * `killAfter`-th answer, leaving the rest of the window in flight.
 */
async function streamUntilKilled(
  proc: SequencerProcess,
  stream: { tenantId: string; storeId: string },
  next: () => SentBatch,
  killAfter: number,
  mode: KillMode,
): Promise<{ acked: number; inFlight: number; error: string | undefined }> {
  const session = openAppendSession(proc.url);
  const open: SentBatch[] = [];
  let acked = 0;
  let stopped = false;
  let killing: Promise<void> = Promise.resolve();
  const topUp = (): void => {
    while (!stopped && open.length < WINDOW) {
      const b = next();
      open.push(b);
      session.send(b.request);
    }
  };
  const killOnceCommittedPast = async (head: bigint): Promise<void> => {
    const deadline = Date.now() + 10_000;
    try {
      for (;;) {
        const [row] = await sql<{ head: string }[]>`
          select head from streams where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}`;
        if (BigInt(row?.head ?? 0) > head) return;
        if (Date.now() > deadline) throw new Error(`no batch committed past head ${head} within 10 s`);
      }
    } finally {
      proc.child.kill("SIGKILL");
    }
  };
  let deaf = false;
  session.onResult = (result) => {
    if (deaf) return; // answers after the cut count as lost
    const b = open.shift();
    expect(result.batchId).toBe(b?.batchId);
    (b as SentBatch).receipts = receiptsOf(result).map((r) => r.receipt);
    acked++;
    if (acked === killAfter) {
      stopped = true;
      if (mode === "on-answer") proc.child.kill("SIGKILL");
      else {
        deaf = true;
        killing = killOnceCommittedPast(result.headSequence);
      }
    }
    topUp();
  };
  topUp();
  const error = await session.ended;
  await killing;
  await proc.kill("SIGKILL"); // already dead: waits for the exit to be observed
  expect(proc.child.signalCode).toBe("SIGKILL");
  return { acked, inFlight: open.length, error: error === undefined ? undefined : error.message };
}

/** Which batches are in the log, asserting each is there entirely or not at all. */
function committedBatches(sent: readonly SentBatch[], logged: ReadonlyMap<string, LoggedEvent>): boolean[] {
  return sent.map((b) => {
    const present = b.events.filter((e) => logged.has(e.eventId)).length;
    expect(
      [0, b.events.length],
      `batch ${b.batchId}: ${present} of ${b.events.length} events logged`,
    ).toContain(present);
    return present === b.events.length;
  });
}

/**
 * The log holds exactly the events of a prefix of the sent batches, in send order, numbered 1..N; every
 * answered batch is in it with the sequence numbers (and receipt bytes) it was answered with.
 */
async function checkLog(
  sent: readonly SentBatch[],
  tenantId: string,
  storeId: string,
): Promise<{ committed: boolean[]; logged: Map<string, LoggedEvent> }> {
  const stream = await readStream(sql, tenantId, storeId);
  expectGapFree(stream);
  const logged = new Map(stream.events.map((e) => [e.eventId, e]));
  const committed = committedBatches(sent, logged);
  const prefix = committed.indexOf(false) === -1 ? committed.length : committed.indexOf(false);
  expect(
    committed.slice(prefix).every((c) => !c),
    "committed batches are not a prefix of the sent ones",
  ).toBe(true);
  const expectedOrder = sent.slice(0, prefix).flatMap((b) => b.events.map((e) => e.eventId));
  expect(stream.events.map((e) => e.eventId)).toEqual(expectedOrder);
  for (const [i, b] of sent.entries()) {
    if (b.receipts === undefined) continue;
    expect(committed[i], `acknowledged batch ${b.batchId} is not in the log`).toBe(true);
    for (const [k, r] of b.receipts.entries()) {
      const e = b.events[k] as TestBatch["events"][number];
      expectReceiptMatches(r, e.signingHash, sequencerKey, logged.get(e.eventId));
    }
  }
  return { committed, logged };
}

it("keeps every acknowledged event, all-or-nothing batches and a gap-free stream across SIGKILLs", async () => {
  server = await spawnSequencer(db.url, ENV);
  const agent = createAgent();
  const keys = createClient(
    KeyRegistryService,
    createGrpcTransport({ baseUrl: server.url, interceptors: [withCredential(TEST_ADMIN_KEY)] }),
  );
  await registerAgent(keys, agent);

  const sent: SentBatch[] = [];
  let made = 0;
  const makeBatches = (n: number): SentBatch[] =>
    Array.from({ length: n }, () => ({
      ...makeBatch(agent, SIZES[made++ % SIZES.length] ?? 1),
      receipts: undefined,
    }));

  const resent = { replayed: 0, fresh: 0 };
  const rounds: [number, KillMode][] = [
    [2, "on-answer"],
    [10, "after-commit"],
    [25, "after-commit"],
  ];
  for (const [killAfter, mode] of rounds) {
    const before = sent.filter((b) => b.receipts !== undefined).length;
    // Signed up front, so the client keeps pace with the server instead of signing between answers.
    const ready = makeBatches(killAfter + WINDOW);
    const next = (): SentBatch => {
      const b = ready.shift();
      if (b === undefined) throw new Error("ran out of prepared batches");
      sent.push(b);
      return b;
    };
    const run = await streamUntilKilled(server, agent, next, killAfter, mode);
    server = undefined;
    // Answers already on the wire when the signal landed may still arrive: at least killAfter.
    expect(run.acked).toBeGreaterThanOrEqual(killAfter);
    // The kill happened with batches still unanswered on the stream, and the client saw the stream fail.
    expect(run.inFlight).toBeGreaterThan(0);
    expect(run.error).toBeDefined();
    expect(sent.filter((b) => b.receipts !== undefined)).toHaveLength(before + run.acked);

    // A killed server's open transaction is rolled back once its connection is gone; wait for that.
    await waitForOtherSessionsToEnd(sql);
    const { committed, logged } = await checkLog(sent, agent.tenantId, agent.storeId);

    // A new process on the same database; resend, in order, every batch that got no answer.
    server = await spawnSequencer(db.url, ENV);
    const unanswered = sent.flatMap((b, i) =>
      b.receipts === undefined ? [{ b, wasCommitted: committed[i] }] : [],
    );
    expect(unanswered.length).toBeGreaterThan(0);
    if (mode === "after-commit") expect(unanswered.some((u) => u.wasCommitted)).toBe(true);
    const resend = openAppendSession(server.url);
    for (const { b } of unanswered) resend.send(b.request);
    resend.close();
    expect(await resend.ended).toBeUndefined();
    expect(resend.results.map((r) => r.batchId)).toEqual(unanswered.map(({ b }) => b.batchId));
    for (const [i, { b, wasCommitted }] of unanswered.entries()) {
      const rs = receiptsOf(resend.results[i] as (typeof resend.results)[number]);
      expect(rs.map((r) => r.receipt.eventId)).toEqual(b.events.map((e) => e.eventId));
      // Committed before the crash (but never answered): replayed with the sequence numbers already logged.
      expect(rs.every((r) => r.replayed === wasCommitted)).toBe(true);
      if (wasCommitted) {
        for (const [k, r] of rs.entries()) {
          expect(r.receipt.sequenceNumber).toBe(logged.get(b.events[k]?.eventId ?? "")?.sequenceNumber);
        }
      }
      b.receipts = rs.map((r) => r.receipt);
      resent[wasCommitted ? "replayed" : "fresh"]++;
    }
    const after = await checkLog(sent, agent.tenantId, agent.storeId);
    expect(after.committed.every((c) => c)).toBe(true);
    const seq = createClient(
      SequencerService,
      createGrpcTransport({ baseUrl: server.url, interceptors: [withCredential(TEST_ADMIN_KEY)] }),
    );
    const total = sent.reduce((n, b) => n + b.events.length, 0);
    expect((await seq.getHead({ tenantId: agent.tenantId, storeId: agent.storeId })).headSequence).toBe(
      BigInt(total),
    );
  }
  // Both paths ran: batches committed but unanswered (replayed on resend) and batches lost with the process.
  expect(resent.replayed).toBeGreaterThan(0);
  expect(resent.fresh).toBeGreaterThan(0);
  const last = server;
  server = undefined;
  expect(await last?.stop()).toBe(0);
});
