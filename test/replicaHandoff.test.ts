// A reader moved between two read replicas at different heads: a primary with two hot standbys (started by the
// test), instance A reading standby1 and instance B reading standby2 (DATABASE_READ_URLS), writers appending to
// the primary through A. Replay on standby2 is paused, so B's replica lags A's. A subscriber hops between A and B
// (lagging → leading and leading → lagging, where its cursor is past what B's replica applied) and a PullEvents
// cursor does the same: the concatenated delivery is exactly 1..N, event by event the primary's log, and the
// lagging replica never reports a head it has not applied nor refuses or skips a cursor past it (B waits
// REPLICA_WAIT_MS, then the primary serves).
import { type Client, createClient } from "@connectrpc/connect";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequencedEvent } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { createSql } from "../src/infra/pg/createSql.js";
import { migrate, readMigrations } from "../src/infra/pg/migrate.js";
import { MIGRATIONS_DIR, type Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { hasPgBinaries, type PgCluster, type PgNode, startPgCluster } from "./support/pgCluster.js";
import { appendAll, expectExactRange, expectVerified } from "./support/reads.js";
import { startTestSequencer, testIdentity, testTransport } from "./support/sequencer.js";
import { readStream } from "./support/streamLog.js";
import { follow, metric, sleep } from "./support/subscriber.js";

const WAIT_MS = 300;

let cluster: PgCluster;
/** Read by A; replays throughout (the leading replica). */
let standby1: PgNode;
/** Read by B; its replay is paused by the tests (the lagging replica). */
let standby2: PgNode;
let instanceA: Sequencer;
let instanceB: Sequencer;
let seqA: Client<typeof SequencerService>;
let seqB: Client<typeof SequencerService>;
let keys: Client<typeof KeyRegistryService>;

const replicaEnv = (url: string): Record<string, string> => ({
  DATABASE_READ_URLS: url,
  REPLICA_CHECK_MS: "100",
  // Far above what a paused replica lags in these tests: both stay in rotation, so the lagging one is read.
  REPLICA_MAX_LAG_MS: "120000",
  REPLICA_WAIT_MS: String(WAIT_MS),
  COMMIT_WORKER: "false",
  SUBSCRIBE_POLL_INTERVAL_MS: "100",
});

/** A labelled counter is absent until first counted. */
const counter = (s: Sequencer, name: string) => metric(s.url, name).catch(() => 0);
const replicaReads = (s: Sequencer) => counter(s, 'ves_db_reads_total{target="replica0"}');
const behindFallbacks = (s: Sequencer) =>
  counter(s, 'ves_replica_fallbacks_total{replica="replica0",reason="behind"}');

/** The head of the agent's stream as the server behind `sql` has applied it (0: no row yet). */
async function headOn(sql: postgres.Sql, agent: TestAgent): Promise<bigint> {
  const [row] = await sql<{ head: bigint | string }[]>`
    select head from streams where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId}`;
  return BigInt(row?.head ?? 0n);
}

/** Waits until `node` has replayed the primary's current WAL position (cluster.waitForReplay waits for all). */
async function waitForReplayOn(node: PgNode, timeoutMs = 10_000): Promise<void> {
  const [{ lsn } = { lsn: "0/0" }] = await cluster.primary.admin<{ lsn: string }[]>`
    select pg_current_wal_lsn()::text as lsn`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [r] = await node.admin<{ ok: boolean }[]>`select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as ok`;
    if (r?.ok) return;
    if (Date.now() > deadline) throw new Error(`${node.name} did not replay ${lsn} in ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function newStream(): Promise<TestAgent> {
  const agent = createAgent();
  await registerAgent(keys, agent);
  return agent;
}

/** Appends `n` events to the agent's stream through A (the primary sequences them); returns their sequences. */
function append(agent: TestAgent, n: number, batch = 20): Promise<bigint[]> {
  const events = Array.from({ length: n }, (_, i) =>
    agent.event({ entityType: "order", entityId: `o-${i % 5}`, eventType: "order.created" }),
  );
  return appendAll(seqA, events, batch);
}

/**
 * What a reader received, checked event by event against the primary: exactly 1..N in order (no gap, no repeat),
 * N the primary's head, each event the primary's row at that sequence (id, receipt hash, sequencer signature),
 * and each verifying on its own (agent signature, receipt).
 */
async function expectPrimaryLog(agent: TestAgent, got: readonly SequencedEvent[]): Promise<void> {
  const primaryLog = await readStream(cluster.primary.admin, agent.tenantId, agent.storeId);
  expectExactRange(
    got.map((e) => e.receipt?.sequenceNumber ?? 0n),
    Number(primaryLog.head),
  );
  expect(got).toHaveLength(primaryLog.events.length);
  for (const [i, e] of got.entries()) {
    const row = primaryLog.events[i];
    expect(e.event?.eventId).toBe(row?.eventId);
    expect(Buffer.from(e.receipt?.receiptHash ?? []).equals(Buffer.from(row?.receiptHash ?? []))).toBe(true);
    expect(
      Buffer.from(e.receipt?.sequencerSignature ?? []).equals(Buffer.from(row?.sequencerSignature ?? [])),
    ).toBe(true);
  }
  expectVerified(got, new Map([[agent.agentId, agent.publicKey]]), instanceA.publicKey);
}

describe.skipIf(!hasPgBinaries())("a reader moved between two replicas at different heads", () => {
  beforeAll(async () => {
    cluster = await startPgCluster();
    // The schema first, so both standbys start with it.
    const sql = createSql(cluster.primary.url(), { max: 1 });
    await migrate(sql, await readMigrations(MIGRATIONS_DIR));
    await sql.end();
    [standby1, standby2] = await Promise.all([
      cluster.addStandby("standby1"),
      cluster.addStandby("standby2"),
    ]);
    // One identity, so every receipt verifies against one key whichever instance served it.
    const identity = testIdentity();
    instanceA = await startTestSequencer(cluster.primary.url(), {
      ...identity,
      ...replicaEnv(standby1.url()),
    });
    instanceB = await startTestSequencer(cluster.primary.url(), {
      ...identity,
      ...replicaEnv(standby2.url()),
    });
    seqA = createClient(SequencerService, testTransport(instanceA.url));
    seqB = createClient(SequencerService, testTransport(instanceB.url));
    keys = createClient(KeyRegistryService, testTransport(instanceA.url));
  }, 60_000);

  afterAll(async () => {
    await standby2?.resumeReplay().catch(() => {});
    await instanceB?.stop();
    await instanceA?.stop();
    await cluster?.destroy();
  });

  it("a subscriber moved between two replicas never skips or repeats an event", async () => {
    const agent = await newStream();
    const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
    await append(agent, 60);
    await cluster.waitForReplay();
    await standby2.pauseReplay();
    const lagHead = await headOn(standby2.admin, agent);
    expect(lagHead).toBe(60n);
    const readsB0 = await replicaReads(instanceB);
    const readsA0 = await replicaReads(instanceA);
    const fallbacksB0 = await behindFallbacks(instanceB);

    // Writers keep appending to the primary while the subscriber hops (bounded, should a hop hang).
    let writersDone = false;
    const writing = (async () => {
      for (let i = 0; i < 100 && !writersDone; i++) {
        await append(agent, 20);
        await sleep(20);
      }
    })();
    const received: SequencedEvent[] = [];
    let next = 1n;
    /** Hops onto B (the lagging replica) with a cursor past what that replica has applied. */
    let leadingToLagging = 0;
    const hopTo = async (via: "A" | "B", until: bigint): Promise<void> => {
      const r = await follow(
        via === "A" ? seqA : seqB,
        { ...stream, fromSequence: next },
        // A subscriber stuck on what a paused replica lacks fails here, not at the test's timeout.
        { until, keepEvents: true, signal: AbortSignal.timeout(10_000) },
      );
      // Resumed exactly at its cursor: no repeat, no gap at the seam.
      expect(r.events[0]?.receipt?.sequenceNumber).toBe(next);
      received.push(...r.events);
      next = r.nextSequence;
    };
    try {
      // Eight hops, alternating B, A, B, ...; each subscription reads at least 20 events and is dropped. The
      // first starts on B below its replica's head and follows past it. Hops 2 and 4 resume on B from a cursor
      // A took past what B's replica applied: the dangerous direction. Replay resumes after hop 5.
      for (let hop = 0; hop < 8; hop++) {
        const via = hop % 2 === 0 ? "B" : "A";
        if (via === "B" && hop <= 5 && next > lagHead + 1n) leadingToLagging++;
        await hopTo(via, hop === 0 ? lagHead + 20n : next + 19n);
        if (hop <= 5) {
          // Still paused: the two replicas are at different heads, B's behind A's.
          expect(await headOn(standby2.admin, agent)).toBe(lagHead);
          await waitForReplayOn(standby1);
          expect(await headOn(standby1.admin, agent)).toBeGreaterThan(lagHead);
        }
        if (hop === 5) await standby2.resumeReplay();
      }
      writersDone = true;
      await writing;
      // The writers stopped; one last batch, and one last hop on B reads up to the primary's head.
      await append(agent, 20);
      await hopTo("B", await headOn(cluster.primary.admin, agent));
    } finally {
      writersDone = true;
      await writing;
      await standby2.resumeReplay();
    }
    expect(leadingToLagging).toBe(2);
    await expectPrimaryLog(agent, received);
    // Both replicas served reads, and B's (lagging) one did not serve what it had not applied: those reads
    // waited REPLICA_WAIT_MS and went to the primary.
    expect(await replicaReads(instanceA)).toBeGreaterThan(readsA0);
    expect(await replicaReads(instanceB)).toBeGreaterThan(readsB0);
    expect(await behindFallbacks(instanceB)).toBeGreaterThanOrEqual(fallbacksB0 + leadingToLagging);
  });

  it("a PullEvents cursor moved between two replicas never skips or repeats an event", async () => {
    const agent = await newStream();
    const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
    await append(agent, 50);
    await cluster.waitForReplay();
    await standby2.pauseReplay();
    const got: SequencedEvent[] = [];
    try {
      await append(agent, 30);
      await waitForReplayOn(standby1);
      // The leading replica has 80, the lagging one 50.
      expect(await headOn(standby1.admin, agent)).toBe(80n);
      expect(await headOn(standby2.admin, agent)).toBe(50n);
      const fallbacks0 = await behindFallbacks(instanceB);
      const readsB0 = await replicaReads(instanceB);

      // On B (lagging): pages up to its own head, never beyond it, and the head it reports is its own.
      let cursor = 1n;
      for (;;) {
        const page = await seqB.pullEvents({ ...stream, fromSequence: cursor, limit: 20 });
        expect(page.headSequence).toBe(50n);
        got.push(...page.events);
        cursor = page.nextSequence;
        if (!page.hasMore) break;
      }
      expect(cursor).toBe(51n);
      expect(await replicaReads(instanceB)).toBeGreaterThan(readsB0);
      // At its head B has nothing more and leaves the cursor where it is (no skip).
      const atHead = await seqB.pullEvents({ ...stream, fromSequence: cursor, limit: 20 });
      expect(atHead.events).toHaveLength(0);
      expect(atHead.nextSequence).toBe(51n);
      expect(atHead.headSequence).toBe(50n);
      expect(await behindFallbacks(instanceB)).toBe(fallbacks0);

      // Lagging → leading: A continues from B's cursor.
      const onA = await seqA.pullEvents({ ...stream, fromSequence: cursor, limit: 20 });
      expect(onA.headSequence).toBe(80n);
      expect(onA.hasMore).toBe(true);
      got.push(...onA.events);
      cursor = onA.nextSequence;
      expect(cursor).toBe(71n);

      // Leading → lagging: the cursor is 20 past B's replica head. Not refused as out of range, not answered
      // from the replica: B waits REPLICA_WAIT_MS for it, then the primary serves.
      const started = performance.now();
      const back = await seqB.pullEvents({ ...stream, fromSequence: cursor, limit: 20 });
      expect(performance.now() - started).toBeGreaterThanOrEqual(WAIT_MS - 20);
      expect(back.headSequence).toBe(80n);
      expect(back.hasMore).toBe(false);
      got.push(...back.events);
      cursor = back.nextSequence;
      expect(cursor).toBe(81n);
      expect(await behindFallbacks(instanceB)).toBe(fallbacks0 + 1);
      expect(await headOn(standby2.admin, agent)).toBe(50n);

      // And back to A at the head: nothing more, the cursor stays.
      const end = await seqA.pullEvents({ ...stream, fromSequence: cursor, limit: 20 });
      expect(end.events).toHaveLength(0);
      expect(end.nextSequence).toBe(81n);
    } finally {
      await standby2.resumeReplay();
    }
    await expectPrimaryLog(agent, got);

    // Resumed: B's replica catches up and serves the rest itself.
    await cluster.waitForReplay();
    const fallbacks1 = await behindFallbacks(instanceB);
    const caughtUp = await seqB.pullEvents({ ...stream, fromSequence: 51n, limit: 100 });
    expect(caughtUp.headSequence).toBe(80n);
    expect(caughtUp.events.map((e) => e.event?.eventId)).toEqual(got.slice(50).map((e) => e.event?.eventId));
    expect(await behindFallbacks(instanceB)).toBe(fallbacks1);
  });
});
