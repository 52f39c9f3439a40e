// Zero-loss failover on PostgreSQL's own replication: a primary with a synchronous hot standby
// (synchronous_standby_names, synchronous_commit = on), a sequencer process connected through a multi-host URL
// with target_session_attrs=read-write, writers appending to one stream. The primary is SIGKILLed under load and
// the standby promoted; the writers resend every batch that got no answer (same batch, same events). Then the
// promoted node's log is checked event by event against every receipt the writers got: nothing acknowledged is
// lost, nothing is sequenced twice, no sequence number is skipped, and the commitment chain continues.
import { type Client, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Receipt } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../src/client/signEvent.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { createSql } from "../src/infra/pg/createSql.js";
import { migrate, readMigrations } from "../src/infra/pg/migrate.js";
import { MIGRATIONS_DIR } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { expectValidChain } from "./support/chain.js";
import { hasPgBinaries, type PgCluster, type PgNode, startPgCluster } from "./support/pgCluster.js";
import { type SequencerProcess, spawnSequencer, testIdentity, testTransport } from "./support/sequencer.js";
import { expectGapFree, expectReceiptMatches, readStream } from "./support/streamLog.js";
import { sleep } from "./support/subscriber.js";

const WRITERS = 3;
const BATCH = 10;
/** Batches acknowledged before the primary is killed. */
const KILL_AFTER = 30;
/** Batches acknowledged after the failover before the writers stop. */
const AFTER = 30;

interface SentBatch {
  readonly batchId: string;
  readonly events: readonly SignedEvent[];
  receipts: Receipt[] | undefined;
  attempts: number;
}

let cluster: PgCluster;
let standby: PgNode;
let proc: SequencerProcess | undefined;
let agent: TestAgent;
/** Set before the test kills the server itself, so it is not restarted. */
let stopping = false;
const identity = testIdentity();

describe.skipIf(!hasPgBinaries())("failover to a synchronous standby", () => {
  beforeAll(async () => {
    cluster = await startPgCluster({
      synchronousStandbyNames: "FIRST 1 (standby1)",
      synchronousCommit: "on",
    });
    const sql = createSql(cluster.primary.url(), { max: 1 });
    await migrate(sql, await readMigrations(MIGRATIONS_DIR));
    await sql.end();
    standby = await cluster.addStandby("standby1");
  }, 60_000);

  afterAll(async () => {
    stopping = true;
    await proc?.kill("SIGKILL").catch(() => {});
    await cluster?.destroy();
  });

  it("loses no acknowledged event, sequences none twice, skips no number, and continues the chain", async () => {
    // Both nodes: postgres.js tries them in turn and keeps a connection only to the one not in recovery
    // ("primary"; its "read-write" check misses a hot standby of PostgreSQL 14+, see README).
    const url = `postgres://postgres@127.0.0.1:${cluster.primary.port},127.0.0.1:${standby.port}/postgres?target_session_attrs=primary`;
    const env = {
      ...identity,
      COMMIT_MAX_AGE_MS: "100",
      COMMIT_POLL_MS: "50",
      DB_POOL_MAX: "4",
    };
    const crashes: string[] = [];
    let current: { url: string; client: Client<typeof SequencerService> } | undefined;
    const start = async (): Promise<void> => {
      const p = await spawnSequencer(url, env);
      proc = p;
      current = { url: p.url, client: createClient(SequencerService, testTransport(p.url)) };
      p.child.once("exit", (code, signal) => {
        if (stopping) return;
        // Should the server die on a lost connection, note it and start another (the clients retry).
        crashes.push(`exit ${code ?? signal}: ${p.output().slice(-2000)}`);
        current = undefined;
        void restart();
      });
    };
    const restart = async (): Promise<void> => {
      while (!stopping) {
        try {
          await start();
          return;
        } catch (err) {
          crashes.push(`restart failed: ${String(err).slice(0, 500)}`);
          await sleep(200);
        }
      }
    };
    await start();
    agent = createAgent();
    await registerAgent(createClient(KeyRegistryService, testTransport(current?.url ?? "")), agent);

    const sent: SentBatch[] = [];
    let acked = 0;
    let ackedAfterFailover = 0;
    let failedCalls = 0;
    let failedOver = false;
    const deadline = Date.now() + 40_000;
    const send = async (b: SentBatch): Promise<void> => {
      for (;;) {
        if (Date.now() > deadline) {
          throw new Error(
            `batch ${b.batchId} unacknowledged after 40 s; server output:\n${proc?.output().slice(-3000)}`,
          );
        }
        const c = current;
        if (c !== undefined) {
          b.attempts++;
          try {
            const res = await c.client.appendBatch(
              { batchId: b.batchId, events: b.events.map(signedEventToProto) },
              { timeoutMs: 5_000 },
            );
            const receipts = (res.result?.results ?? []).map((r) => {
              if (r.outcome.case !== "receipt") throw new Error(`event ${r.eventId} rejected`);
              return r.outcome.value;
            });
            if (res.result?.error !== undefined) throw new Error(res.result.error.message);
            b.receipts = receipts;
            return;
          } catch {
            failedCalls++;
          }
        }
        await sleep(50);
      }
    };
    const writer = async (): Promise<void> => {
      while (!failedOver || ackedAfterFailover < AFTER) {
        const b: SentBatch = {
          batchId: crypto.randomUUID(),
          events: Array.from({ length: BATCH }, () => agent.event()),
          receipts: undefined,
          attempts: 0,
        };
        sent.push(b);
        await send(b);
        acked++;
        if (failedOver) ackedAfterFailover++;
      }
    };
    const failover = (async () => {
      while (acked < KILL_AFTER) await sleep(5);
      await cluster.primary.kill();
      await standby.promote();
      failedOver = true;
    })();
    await Promise.all([failover, ...Array.from({ length: WRITERS }, writer)]);

    const promoted = standby.admin;
    const log = await readStream(promoted, agent.tenantId, agent.storeId);
    // No sequence number skipped or used twice: exactly 1..head.
    expectGapFree(log);
    // Nothing sequenced twice: every event the writers sent appears once; nothing acknowledged was lost, and
    // every receipt (those from before the kill included) is the one in the promoted log.
    const logged = new Map(log.events.map((e) => [e.eventId, e]));
    expect(logged.size).toBe(log.events.length);
    expect(log.events.length).toBe(sent.length * BATCH);
    const info = await current?.client.getSequencerInfo({});
    const sequencerKey = info?.signingKeys[0]?.publicKey as Uint8Array;
    for (const b of sent) {
      expect(b.receipts, `batch ${b.batchId} was never acknowledged`).toBeDefined();
      for (const [i, r] of (b.receipts ?? []).entries()) {
        const e = b.events[i] as SignedEvent;
        expectReceiptMatches(r, e.signingHash, sequencerKey, logged.get(e.eventId));
      }
    }
    // The failover happened under load: calls failed and were retried.
    expect(failedCalls).toBeGreaterThan(0);
    expect(sent.some((b) => b.attempts > 1)).toBe(true);

    // The commitment chain continues on the promoted node, from sequence 1 to the head.
    const head = log.head;
    const t0 = Date.now();
    for (;;) {
      const [row] = await promoted<{ end: string | null }[]>`
        select max(sequence_end)::text as end from commitments
        where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId}`;
      if (BigInt(row?.end ?? "0") === head) break;
      if (Date.now() - t0 > 10_000) throw new Error(`sealed up to ${row?.end}, head ${head}`);
      await sleep(50);
    }
    expect(await expectValidChain(promoted, agent, head, sequencerKey)).toBeGreaterThan(1);

    stopping = true;
    // The server survives the loss of its primary by itself (postgres.js's crash on a connection terminated
    // mid-write is patched): the restart above is a safety net that must not have been needed.
    expect(crashes).toEqual([]);
    await proc?.stop();
  });
});
