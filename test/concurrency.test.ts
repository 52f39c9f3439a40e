// Concurrent ingest across two sequencer processes on one PostgreSQL: many Append streams writing one stream or
// several give gap-free, strictly increasing sequences with one verifiable receipt per event, and the same
// batch sent to both servers at once is sequenced exactly once (docs/protocol.md §4, §2.4).
import { randomUUID } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Receipt, ReceiptSchema } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { type BatchResult, SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { sodiumEd25519 } from "../src/crypto/native.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import {
  type AppendSession,
  makeBatch,
  openAppendSession,
  receiptsOf,
  type TestBatch,
} from "./support/appendSession.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import {
  type SequencerProcess,
  spawnSequencer,
  TEST_ADMIN_KEY,
  testIdentity,
  withCredential,
} from "./support/sequencer.js";
import { expectGapFree, expectReceiptMatches, readStream } from "./support/streamLog.js";

interface Instance {
  readonly process: SequencerProcess;
  readonly seq: Client<typeof SequencerService>;
  readonly keys: Client<typeof KeyRegistryService>;
}

let db: TestDatabase;
let sql: postgres.Sql;
let servers: [Instance, Instance];
let sequencerKey: Uint8Array;
const identity = testIdentity();

beforeAll(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const env = { ...identity, MIGRATE_ON_START: "true", DB_POOL_MAX: "8", CRYPTO_WORKERS: "1" };
  const procs = await Promise.all([spawnSequencer(db.url, env), spawnSequencer(db.url, env)]);
  servers = procs.map((p) => {
    const transport = createGrpcTransport({ baseUrl: p.url, interceptors: [withCredential(TEST_ADMIN_KEY)] });
    return {
      process: p,
      seq: createClient(SequencerService, transport),
      keys: createClient(KeyRegistryService, transport),
    };
  }) as [Instance, Instance];
  // Both instances must name the configured identity; receipts from either verify against that one key.
  const expectedKey = sodiumEd25519.getPublicKey(Buffer.from(identity.SEQUENCER_SIGNING_KEY, "hex"));
  for (const s of servers) {
    const info = await s.seq.getSequencerInfo({});
    expect(info.sequencerId).toBe(identity.SEQUENCER_ID);
    const current = info.signingKeys.filter((k) => k.current);
    expect(current).toHaveLength(1);
    expect(Buffer.from(current[0]?.publicKey ?? []).equals(expectedKey)).toBe(true);
  }
  sequencerKey = expectedKey;
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  const codes = await Promise.all((servers ?? []).map((s) => s.process.stop()));
  await db?.drop();
  expect(codes.every((c) => c === 0)).toBe(true);
});

async function newAgent(tenantId: string, storeId: string, via: Instance): Promise<TestAgent> {
  const agent = createAgent({ tenantId, storeId });
  await registerAgent(via.keys, agent);
  return agent;
}

/** Batch sizes 1..200, rotated per writer so the writers' batches differ in size at any moment. */
const SIZES = [1, 200, 17, 120, 3, 64, 95];

function sizesFor(writer: number, scale: number): number[] {
  return SIZES.map((_, i) => Math.max(1, Math.round((SIZES[(i + writer) % SIZES.length] ?? 1) * scale)));
}

interface Writer {
  readonly agent: TestAgent;
  readonly server: Instance;
  readonly batches: TestBatch[];
}

/** Streams every writer's batches at once, pipelined, each writer on its own connection; returns the results. */
async function runWriters(writers: readonly Writer[]): Promise<BatchResult[][]> {
  const sessions: AppendSession[] = writers.map((w) => openAppendSession(w.server.process.url));
  for (const [i, w] of writers.entries()) {
    const session = sessions[i] as AppendSession;
    for (const b of w.batches) session.send(b.request);
    session.close();
  }
  const ended = await Promise.all(sessions.map((s) => s.ended));
  expect(ended).toEqual(writers.map(() => undefined));
  return sessions.map((s) => [...s.results]);
}

/**
 * Checks one (tenant, store) stream written by `writers`: per batch, every event accepted once with a
 * contiguous run of sequence numbers; per writer, batches in send order; overall exactly 1..N in the
 * receipts, in the database and in GetHead on both servers; every receipt verifies and matches the log.
 */
async function checkStream(writers: readonly Writer[], results: readonly BatchResult[][]): Promise<bigint> {
  const first = writers[0] as Writer;
  const { tenantId, storeId } = first.agent;
  const receipts = new Map<string, { receipt: Receipt; signingHash: Uint8Array }>();
  // (first sequence number, writer) per batch, to see that the writers really interleaved.
  const runs: [bigint, number][] = [];
  for (const [w, writer] of writers.entries()) {
    const got = results[w] as BatchResult[];
    expect(got.map((r) => r.batchId)).toEqual(writer.batches.map((b) => b.batchId));
    let previous = 0n;
    for (const [i, batch] of writer.batches.entries()) {
      const result = got[i] as BatchResult;
      expect(result.error).toBeUndefined();
      expect([result.tenantId, result.storeId]).toEqual([tenantId, storeId]);
      expect([result.acceptedCount, result.replayedCount, result.rejectedCount]).toEqual([
        batch.events.length,
        0,
        0,
      ]);
      const rs = receiptsOf(result);
      expect(rs.map((r) => r.receipt.eventId)).toEqual(batch.events.map((e) => e.eventId));
      expect(rs.every((r) => !r.replayed)).toBe(true);
      const seqs = rs.map((r) => r.receipt.sequenceNumber);
      const start = seqs[0] as bigint;
      // One transaction per batch: its events hold a contiguous run, nothing of another batch in between.
      expect(seqs).toEqual(seqs.map((_, k) => start + BigInt(k)));
      expect(result.headSequence).toBe(seqs[seqs.length - 1]);
      // Batches of one Append stream are sequenced in the order they were sent.
      expect(start).toBeGreaterThan(previous);
      previous = start;
      runs.push([start, w]);
      for (const [k, r] of rs.entries()) {
        expect(receipts.has(r.receipt.eventId)).toBe(false);
        receipts.set(r.receipt.eventId, {
          receipt: r.receipt,
          signingHash: (batch.events[k] as TestBatch["events"][number]).signingHash,
        });
      }
    }
  }
  const total = writers.reduce((n, w) => n + w.batches.reduce((m, b) => m + b.events.length, 0), 0);
  expect(receipts.size).toBe(total);
  const n = BigInt(total);
  const fromReceipts = [...receipts.values()]
    .map((r) => r.receipt.sequenceNumber)
    .sort((a, b) => Number(a - b));
  expect(fromReceipts).toEqual(Array.from({ length: total }, (_, i) => BigInt(i + 1)));

  const logged = await readStream(sql, tenantId, storeId);
  expectGapFree(logged);
  expect(logged.events).toHaveLength(total);
  for (const e of logged.events) {
    const r = receipts.get(e.eventId);
    expect(r, `logged event ${e.eventId} has no receipt`).toBeDefined();
    expectReceiptMatches((r as { receipt: Receipt }).receipt, r?.signingHash as Uint8Array, sequencerKey, e);
  }
  for (const s of servers) {
    expect((await s.seq.getHead({ tenantId, storeId })).headSequence).toBe(n);
  }

  // The writers interleaved (otherwise this test did not exercise concurrency): more writer changes along
  // the stream than the writers - 1 a serial run would give.
  runs.sort((a, b) => Number(a[0] - b[0]));
  const switches = runs.filter((r, i) => i > 0 && r[1] !== (runs[i - 1] as [bigint, number])[1]).length;
  expect(switches).toBeGreaterThan(writers.length - 1);
  return n;
}

describe("two sequencer processes on one database", () => {
  it("8 concurrent Append streams into one stream give exactly 1..N with one verifiable receipt per event", async () => {
    const tenantId = randomUUID();
    const storeId = randomUUID();
    const writers: Writer[] = [];
    for (let w = 0; w < 8; w++) {
      const server = servers[w % 2] as Instance;
      const agent = await newAgent(tenantId, storeId, server);
      writers.push({ agent, server, batches: sizesFor(w, 1).map((size) => makeBatch(agent, size)) });
    }
    const results = await runWriters(writers);
    const n = await checkStream(writers, results);
    expect(n).toBe(8n * 500n);
  });

  it("8 concurrent Append streams over 4 streams (2 writers each, one per server) give 1..N per stream", async () => {
    const streams = Array.from({ length: 4 }, () => ({ tenantId: randomUUID(), storeId: randomUUID() }));
    const writers: Writer[] = [];
    for (let w = 0; w < 8; w++) {
      const server = servers[w % 2] as Instance;
      const { tenantId, storeId } = streams[Math.floor(w / 2)] as (typeof streams)[number];
      const agent = await newAgent(tenantId, storeId, server);
      writers.push({ agent, server, batches: sizesFor(w, 0.6).map((size) => makeBatch(agent, size)) });
    }
    const results = await runWriters(writers);
    for (let s = 0; s < 4; s++) {
      const pair = [writers[2 * s] as Writer, writers[2 * s + 1] as Writer];
      const n = await checkStream(pair, [results[2 * s] ?? [], results[2 * s + 1] ?? []]);
      expect(n).toBe(
        BigInt(pair.reduce((m, w) => m + w.batches.reduce((k, b) => k + b.events.length, 0), 0)),
      );
    }
  });

  it("the same batch sent to both servers at once is sequenced once: one fresh receipt, one identical replay", async () => {
    const tenantId = randomUUID();
    const storeId = randomUUID();
    const agent = await newAgent(tenantId, storeId, servers[0]);
    const a = openAppendSession(servers[0].process.url);
    const b = openAppendSession(servers[1].process.url);
    const rounds = 12;
    const sent: TestBatch[] = [];
    for (let round = 0; round < rounds; round++) {
      const batch = makeBatch(agent, 1 + ((round * 37) % 120));
      sent.push(batch);
      const answered = Promise.all([
        new Promise<BatchResult>((resolve) => {
          a.onResult = (r) => resolve(r);
        }),
        new Promise<BatchResult>((resolve) => {
          b.onResult = (r) => resolve(r);
        }),
      ]);
      a.send(batch.request);
      b.send(batch.request);
      const [ra, rb] = await answered;
      expect([ra.batchId, rb.batchId]).toEqual([batch.batchId, batch.batchId]);
      const fromA = receiptsOf(ra);
      const fromB = receiptsOf(rb);
      for (const [k, e] of batch.events.entries()) {
        const x = fromA[k] as (typeof fromA)[number];
        const y = fromB[k] as (typeof fromB)[number];
        expect([x.receipt.eventId, y.receipt.eventId]).toEqual([e.eventId, e.eventId]);
        expect(Buffer.from(toBinary(ReceiptSchema, x.receipt))).toEqual(
          Buffer.from(toBinary(ReceiptSchema, y.receipt)),
        );
        expect([x.replayed, y.replayed].filter((replayed) => !replayed)).toHaveLength(1);
      }
      expect(ra.acceptedCount + rb.acceptedCount).toBe(batch.events.length);
      expect(ra.replayedCount + rb.replayedCount).toBe(batch.events.length);
      expect(ra.headSequence).toBe(rb.headSequence);
    }
    a.close();
    b.close();
    expect(await Promise.all([a.ended, b.ended])).toEqual([undefined, undefined]);

    const logged = await readStream(sql, tenantId, storeId);
    expectGapFree(logged);
    const events = sent.flatMap((batch) => batch.events);
    expect(logged.events.map((e) => e.eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    const bySeq = new Map(logged.events.map((e) => [e.eventId, e]));
    for (const [i, r] of a.results.entries()) {
      for (const [k, { receipt }] of receiptsOf(r).entries()) {
        const e = (sent[i] as TestBatch).events[k] as TestBatch["events"][number];
        expectReceiptMatches(receipt, e.signingHash, sequencerKey, bySeq.get(e.eventId));
      }
    }
    for (const s of servers) {
      expect((await s.seq.getHead({ tenantId, storeId })).headSequence).toBe(BigInt(events.length));
    }
  });
});
