// Read replicas on a real streaming-replication cluster (a primary and a hot standby started by the test):
// reads served by the standby never report a head beyond what it applied, reads past what it applied (replay
// paused) are still served correctly, a subscriber moved between an instance reading the primary and one reading
// the standby never skips or repeats, lag past REPLICA_MAX_LAG_MS and a killed standby take it out of rotation.
import { type Client, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { hasPgBinaries, type PgCluster, type PgNode, startPgCluster } from "./support/pgCluster.js";
import { appendAll, expectExactRange } from "./support/reads.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";
import { follow, metric, sleep } from "./support/subscriber.js";

const MAX_LAG_MS = 2_000;

let cluster: PgCluster;
let standby: PgNode;
/** Reads through the standby. */
let viaReplica: Sequencer;
/** Reads from the primary only. */
let viaPrimary: Sequencer;
let seqR: Client<typeof SequencerService>;
let seqP: Client<typeof SequencerService>;
let proofsR: Client<typeof ProofService>;
let agent: TestAgent;
let appended = 0;

const stream = () => ({ tenantId: agent.tenantId, storeId: agent.storeId });

async function append(n: number): Promise<void> {
  const events = Array.from({ length: n }, (_, i) =>
    agent.event({
      entityType: "order",
      entityId: `o-${(appended + i) % 3}`,
      eventType: "order.created",
      payload: { i: appended + i },
    }),
  );
  const seqs = await appendAll(seqP, events, 100);
  expect(seqs[0]).toBe(BigInt(appended + 1));
  appended += n;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A labelled counter is absent until first counted. */
const counter = (url: string, name: string) => metric(url, name).catch(() => 0);
const inRotation = () => metric(viaReplica.url, 'ves_replica_in_rotation{replica="replica0"}');
const replicaReads = () => counter(viaReplica.url, 'ves_db_reads_total{target="replica0"}');

describe.skipIf(!hasPgBinaries())("read replicas on a primary and a hot standby", () => {
  beforeAll(async () => {
    cluster = await startPgCluster();
    // The schema first (through an instance on the primary), so the standby starts with it.
    viaPrimary = await startTestSequencer(cluster.primary.url(), { COMMIT_MAX_AGE_MS: "50" });
    standby = await cluster.addStandby("standby1");
    viaReplica = await startTestSequencer(cluster.primary.url(), {
      DATABASE_READ_URLS: standby.url(),
      REPLICA_CHECK_MS: "100",
      REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
      REPLICA_WAIT_MS: "300",
      COMMIT_WORKER: "false",
      SUBSCRIBE_POLL_INTERVAL_MS: "100",
    });
    seqP = createClient(SequencerService, testTransport(viaPrimary.url));
    seqR = createClient(SequencerService, testTransport(viaReplica.url));
    proofsR = createClient(ProofService, testTransport(viaReplica.url));
    agent = createAgent();
    await registerAgent(createClient(KeyRegistryService, testTransport(viaPrimary.url)), agent);
  }, 60_000);

  afterAll(async () => {
    await viaReplica?.stop();
    await viaPrimary?.stop();
    await cluster?.destroy();
  });

  it("serves reads from the standby, bounded by its own head, and what it has not applied from the primary", async () => {
    await append(50);
    await cluster.waitForReplay();
    const readsBefore = await replicaReads();
    const all = await seqR.pullEvents({ ...stream(), fromSequence: 1n, limit: 1000 });
    expect(all.headSequence).toBe(50n);
    expectExactRange(
      all.events.map((e) => e.receipt?.sequenceNumber ?? 0n),
      50,
    );
    expect(await replicaReads()).toBeGreaterThan(readsBefore);

    // Replay paused: the standby lags by 10 events.
    await standby.pauseReplay();
    try {
      await append(10);
      // Nothing past its applied head is reported or returned by a read it serves...
      const lagging = await seqR.pullEvents({ ...stream(), fromSequence: 1n, limit: 1000 });
      expect(lagging.headSequence).toBe(50n);
      expect(lagging.events).toHaveLength(50);
      expect(lagging.hasMore).toBe(false);
      // ...a cursor just past it is caught up as far as the standby knows...
      const atHead = await seqR.pullEvents({ ...stream(), fromSequence: 51n, limit: 1000 });
      expect(atHead.headSequence).toBe(50n);
      expect(atHead.events).toHaveLength(0);
      // ...a cursor beyond its head (the client saw 55 elsewhere) is served by the primary after REPLICA_WAIT_MS,
      // not refused as out of range...
      const ahead = await seqR.pullEvents({ ...stream(), fromSequence: 56n, limit: 1000 });
      expect(ahead.headSequence).toBe(60n);
      expectExactRange(
        ahead.events.map((e) => e.receipt?.sequenceNumber ?? 0n),
        60,
        56,
      );
      expect(
        await counter(viaReplica.url, 'ves_replica_fallbacks_total{replica="replica0",reason="behind"}'),
      ).toBe(1);
      // ...an entity's versions the standby lacks come from the primary too...
      const history = await seqR.getEntityHistory({
        ...stream(),
        entityType: "order",
        entityId: "o-0",
        fromVersion: 19n,
        limit: 100,
      });
      // o-0 has events 0, 3, ..., 57: 20 versions, of which the standby applied 17.
      expect(history.currentVersion).toBe(20n);
      expect(history.events.map((e) => e.entityVersion)).toEqual([19n, 20n]);
      // ...a subscriber from the start gets 1..60 exactly (catch-up to 50 from the standby, the rest live)...
      const got = await follow(seqR, { ...stream(), fromSequence: 1n }, { until: 60n });
      expectExactRange(got.sequences, 60);
      // ...and a proof of an event sealed after the pause (by the primary's commitment worker) is served.
      let proof: Awaited<ReturnType<typeof proofsR.getInclusionProof>> | undefined;
      await until("event 58 sealed", async () => {
        proof = await proofsR
          .getInclusionProof({ ...stream(), selector: { case: "sequenceNumber", value: 58n } })
          .catch(() => undefined);
        return proof !== undefined;
      });
      expect(proof?.proof?.sequenceNumber).toBe(58n);

      // Lag past REPLICA_MAX_LAG_MS: out of rotation, the primary serves (and reports its own head).
      await until(
        "the lagging standby leaves the rotation",
        async () => (await inRotation()) === 0,
        3 * MAX_LAG_MS,
      );
      const fromPrimary = await seqR.pullEvents({ ...stream(), fromSequence: 1n, limit: 1000 });
      expect(fromPrimary.headSequence).toBe(60n);
    } finally {
      await standby.resumeReplay();
    }
    await until("the standby is back in rotation", async () => (await inRotation()) === 1);
    const back = await seqR.pullEvents({ ...stream(), fromSequence: 1n, limit: 1000 });
    expect(back.headSequence).toBe(60n);
  });

  it("a subscriber moved between an instance on the primary and one on a lagging standby never skips or repeats", async () => {
    const start = appended;
    const total = start + 240;
    const received: bigint[] = [];
    let next = BigInt(start + 1);
    // Writers keep going while the subscriber hops; the standby's replay is paused for part of the time.
    const writing = (async () => {
      for (let i = 0; i < 12; i++) {
        await append(20);
        if (i === 3) await standby.pauseReplay();
        if (i === 8) await standby.resumeReplay();
        await sleep(20);
      }
    })();
    try {
      for (let hop = 0; next <= BigInt(total); hop++) {
        const client = hop % 2 === 0 ? seqP : seqR;
        const stopAt = next + 29n < BigInt(total) ? next + 29n : BigInt(total);
        const r = await follow(client, { ...stream(), fromSequence: next }, { until: stopAt });
        received.push(...r.sequences);
        next = r.nextSequence;
      }
    } finally {
      await writing;
      await standby.resumeReplay();
    }
    expectExactRange(received, total, start + 1);
  });

  it("a killed standby leaves the rotation and the primary serves every read", async () => {
    await append(20);
    await cluster.waitForReplay();
    await standby.kill();
    const res = await seqR.pullEvents({ ...stream(), fromSequence: 1n, limit: 1000 });
    expect(res.headSequence).toBe(BigInt(appended));
    expectExactRange(
      res.events.map((e) => e.receipt?.sequenceNumber ?? 0n),
      appended,
    );
    await until("the killed standby leaves the rotation", async () => (await inRotation()) === 0);
    const got = await follow(seqR, { ...stream(), fromSequence: 1n }, { until: BigInt(appended) });
    expectExactRange(got.sequences, appended);
    const proof = await proofsR.getInclusionProof({
      ...stream(),
      selector: { case: "sequenceNumber", value: 1n },
    });
    expect(proof.proof?.sequenceNumber).toBe(1n);
  });
});
