// Two sequencer processes on one database, writers and subscribers on both: every event committed by either
// instance reaches the subscribers of both (LISTEN/NOTIFY across processes), each sees exactly 1..N per stream.
import { type Client, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { expectExactRange, expectVerified } from "./support/reads.js";
import { type SequencerProcess, spawnSequencer, testIdentity, testTransport } from "./support/sequencer.js";
import { follow, metric, type Received, sleep } from "./support/subscriber.js";

const STREAMS = 4;
const PER_STREAM = 12_500; // 50,000 events in all
const BATCH = 500;

let db: TestDatabase;
let instances: SequencerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const identity = testIdentity();
  // Sequentially: both would otherwise race to apply the migrations (they take an advisory lock, but start-up
  // is quicker this way on a loaded machine).
  for (let i = 0; i < 2; i++) {
    instances.push(await spawnSequencer(db.url, { ...identity, CRYPTO_WORKERS: "1", LOG_LEVEL: "info" }));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((p) => p.stop()));
  instances = [];
  await db?.drop();
});

describe("two instances on one database", () => {
  it("delivers 50,000 events written through both to subscribers on both, exactly 1..N per stream", async () => {
    const clients = instances.map((p) => createClient(SequencerService, testTransport(p.url)));
    const [a, b] = clients as [Client<typeof SequencerService>, Client<typeof SequencerService>];
    const keys = createClient(KeyRegistryService, testTransport(instances[0]?.url ?? ""));
    const agents: TestAgent[] = [];
    for (let s = 0; s < STREAMS; s++) {
      const agent = createAgent();
      await registerAgent(keys, agent);
      agents.push(agent);
    }
    // Signed and encoded before anything is timed or subscribed.
    const batches = agents.map((agent) => {
      const out = [];
      for (let i = 0; i < PER_STREAM; i += BATCH) {
        out.push(
          Array.from({ length: BATCH }, (_, j) =>
            signedEventToProto(agent.event({ entityId: `e-${(i + j) % 97}` })),
          ),
        );
      }
      return out;
    });

    // Per stream: one subscriber on each instance from the start, and one that joins halfway through.
    const received: Promise<Received>[] = [];
    for (const [s, agent] of agents.entries()) {
      const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
      for (const client of clients) {
        received.push(
          follow(client, { ...stream, fromSequence: 1n }, { until: BigInt(PER_STREAM), keepEvents: s === 0 }),
        );
      }
    }
    await sleep(300);

    // Writers on both: the batches of each stream alternate between the instances, two writers per instance.
    const writer = async (client: Client<typeof SequencerService>, s: number, parity: number) => {
      for (const [i, events] of (batches[s] ?? []).entries()) {
        if (i % 2 !== parity) continue;
        const res = await client.appendBatch({ batchId: `s${s}-b${i}`, events });
        expect(res.result?.acceptedCount).toBe(BATCH);
      }
    };
    const writing = Promise.all(
      agents.flatMap((_, s) => [writer(s % 2 === 0 ? a : b, s, 0), writer(s % 2 === 0 ? b : a, s, 1)]),
    );
    await sleep(1000);
    for (const [s, agent] of agents.entries()) {
      const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
      received.push(
        follow(clients[s % 2] as Client<typeof SequencerService>, stream, { until: BigInt(PER_STREAM) }),
      );
    }
    await writing;

    const results = await Promise.all(received);
    for (const r of results) expectExactRange(r.sequences, PER_STREAM);
    // What arrived is independently verifiable (a sample: both instances' subscribers of stream 0).
    const sequencerKey = (await a.getSequencerInfo({})).signingKeys[0]?.publicKey as Uint8Array;
    const agentKeys = new Map(agents.map((x) => [x.agentId, x.publicKey]));
    for (const r of results.slice(0, 2))
      expectVerified(
        r.events.filter((_, i) => i % 50 === 0),
        agentKeys,
        sequencerKey,
      );
    // Both instances heard every commit of both over LISTEN (not only through the poll).
    for (const p of instances) {
      expect(await metric(p.url, "ves_commit_notifications_total")).toBeGreaterThanOrEqual(
        (STREAMS * PER_STREAM) / BATCH,
      );
    }
    // And the two instances really did commit interleaved batches of every stream.
    for (const agent of agents) {
      const head = await b.getHead({ tenantId: agent.tenantId, storeId: agent.storeId });
      expect(head.headSequence).toBe(BigInt(PER_STREAM));
    }
  }, 120_000);
});
