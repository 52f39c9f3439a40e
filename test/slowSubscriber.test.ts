// A deliberately slow subscriber while events are ingested: its live queue stays bounded (it falls back to reading
// the database at its own pace instead), the server's memory stays bounded, and it still ends with exactly 1..N.
import { readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { expectExactRange } from "./support/reads.js";
import { type SequencerProcess, spawnSequencer, testTransport } from "./support/sequencer.js";
import { follow, metric, sleep } from "./support/subscriber.js";

const N = 20_000;
const BATCH = 200;
const BUFFER = 200;

let db: TestDatabase;
let server: SequencerProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await spawnSequencer(db.url, { SUBSCRIBER_BUFFER_EVENTS: String(BUFFER), CRYPTO_WORKERS: "1" });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

it("keeps a slow subscriber's buffer bounded and still gives it exactly 1..N", async () => {
  const transport = testTransport(server.url);
  const seq = createClient(SequencerService, transport);
  const agent = createAgent();
  await registerAgent(createClient(KeyRegistryService, transport), agent);
  const note = "x".repeat(1000); // ~1 KB payloads, so retaining events would show
  const batches = Array.from({ length: N / BATCH }, (_, b) =>
    Array.from({ length: BATCH }, (_, i) =>
      signedEventToProto(agent.event({ payload: { n: b * BATCH + i, note } })),
    ),
  );
  const stream = { tenantId: agent.tenantId, storeId: agent.storeId };

  const pid = server.child.pid as number;
  const rssAtStart = rssMb(pid);
  let peakRss = rssAtStart;
  let peakQueued = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakRss = Math.max(peakRss, rssMb(pid));
      peakQueued = Math.max(peakQueued, await metric(server.url, "ves_subscriber_queued_events"));
      await sleep(50);
    }
  })();

  const slow = follow(seq, stream, { until: BigInt(N), onMessage: () => sleep(25) });
  const fast = follow(seq, stream, { until: BigInt(N) });
  await sleep(200);
  const writers = [0, 1].map(async (w) => {
    for (let b = w; b < batches.length; b += 2) {
      await seq.appendBatch({ batchId: `b${b}`, events: batches[b] ?? [] });
    }
  });
  await Promise.all(writers);
  const [slowGot, fastGot] = await Promise.all([slow, fast]);
  sampling = false;
  await sampler;

  expectExactRange(slowGot.sequences, N);
  expectExactRange(fastGot.sequences, N);
  // The slow one overflowed its live queue and read the database instead of growing the queue.
  expect(await metric(server.url, "ves_subscriber_fallbacks_total")).toBeGreaterThan(0);
  expect(peakQueued).toBeLessThanOrEqual(2 * BUFFER);
  // About 20 MB of payload went through; a server that kept it for the slow subscriber would grow by more.
  expect(peakRss - rssAtStart, `RSS ${rssAtStart.toFixed(0)} -> peak ${peakRss.toFixed(0)} MB`).toBeLessThan(
    250,
  );
}, 120_000);
