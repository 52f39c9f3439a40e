// Live delivery benchmark: commit-to-delivery latency of 100 live subscribers while events are ingested at half
// the peak ingest rate. The peak is measured first, as in the ingest bench (Append, 4 streams, batches of 500).
// Then 100 subscribers follow the paced streams (spread over several HTTP/2 connections). A delivered event's
// latency is its arrival at the subscriber minus the commit instant of its batch, observed independently of the
// server: a worker thread of this bench LISTENs on the commit channel, and PostgreSQL sends the notification at
// commit. The figure from the receipt's sequenced_at (taken under the stream lock, before receipt signing and the
// commit) is printed too, as a conservative upper bound. Every subscriber must receive exactly 1..N of its stream.
// Prints figures with the machine and settings; the last line is one JSON object.
//
//   npm run bench -- subscribe
//   npm run bench -- subscribe --subscribers 100 --subscriber-streams 1 --rate 8000 --seconds 20
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { AppendRequestSchema } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { proofOfPossession } from "../src/client/proofOfPossession.js";
import { signEvent } from "../src/client/signEvent.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { nativeSha256, sodiumEd25519 } from "../src/crypto/native.js";
import { startTsWorker } from "../src/infra/startTsWorker.js";
import { createRawAppendClient } from "./rawAppend.js";
import { createRawSubscribeClient, firstReceiptTimeOf, type RawSubscribeClient } from "./subscribeClient.js";
import {
  BENCH_ADMIN_KEY,
  benchTransport,
  cpuBetween,
  createBenchDatabase,
  progress,
  sampleCpu,
  spawnServer,
} from "./support.js";

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "subscribe"),
  options: {
    subscribers: { type: "string", default: "100" },
    "subscriber-streams": { type: "string", default: "4" },
    connections: { type: "string", default: "10" },
    "peak-events": { type: "string", default: "80000" },
    rate: { type: "string" },
    seconds: { type: "string", default: "15" },
    batch: { type: "string", default: "100" },
    streams: { type: "string", default: "4" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write(
    [
      "npm run bench -- subscribe [options]",
      "  --subscribers N         live subscribers (default 100)",
      "  --subscriber-streams N  how many of the paced streams they follow, evenly (default 4: all of them)",
      "  --connections N         HTTP/2 connections the subscribers share (default 10)",
      "  --peak-events N         events of the peak phase that sets the rate (default 80000)",
      "  --rate R                paced events/s; skips the peak phase (default: half the measured peak)",
      "  --seconds S             length of the paced phase (default 15)",
      "  --batch N               events per batch in the paced phase (default 100)",
      "  --streams N             streams written concurrently (default 4)",
      "",
    ].join("\n"),
  );
  process.exit(0);
}
const SUBSCRIBERS = Number(args.subscribers);
const STREAMS = Number(args.streams);
const SUB_STREAMS = Math.min(STREAMS, Number(args["subscriber-streams"]));
const CONNECTIONS = Number(args.connections);
const PACED_BATCH = Number(args.batch);
const SECONDS = Number(args.seconds);
const PEAK_BATCH = 500;
const crypto = { sha256: nativeSha256, ed25519: sodiumEd25519 };
const fmt = (n: number, d = 1): number => Number(n.toFixed(d));

interface Stream {
  tenantId: string;
  storeId: string;
  agentId: string;
  sign: (m: Uint8Array) => Uint8Array;
  publicKey: Uint8Array;
}

function makeStream(): Stream {
  const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return {
    tenantId: randomUUID(),
    storeId: randomUUID(),
    agentId: randomUUID(),
    sign: sodiumEd25519.createSigner(seed),
    publicKey: sodiumEd25519.getPublicKey(seed),
  };
}

/** Per stream, `batches` encoded AppendRequests of `batch` signed events each. */
function prepare(streams: Stream[], batches: number, batch: number, label: string): Uint8Array[][] {
  const bar = progress(`signing and encoding ${label}`, streams.length * batches * batch);
  const out = streams.map((s) =>
    Array.from({ length: batches }, () => {
      const events = Array.from({ length: batch }, (_, i) => {
        bar.tick();
        return signedEventToProto(
          signEvent(
            {
              tenantId: s.tenantId,
              storeId: s.storeId,
              sourceAgentId: s.agentId,
              agentKeyId: 1,
              entityType: "order",
              entityId: `order-${i % 500}`,
              eventType: "order.updated",
              payload: {
                orderId: `ORD-${i}`,
                amount: i * 7,
                currency: "USD",
                lines: [{ sku: "WIDGET-001", qty: 1 + (i % 9), price: 1999 }],
                note: "bench payload of a typical order update, about three hundred bytes of JSON in all",
              },
            },
            { sign: s.sign },
            crypto,
          ),
        );
      });
      return toBinary(AppendRequestSchema, {
        $typeName: "ves.sequencer.v1.AppendRequest",
        receiptUpgrades: false,
        batchId: randomUUID(),
        events,
      });
    }),
  );
  bar.done();
  return out;
}

/** Latencies in 0.1 ms buckets up to 60 s. */
function createHistogram() {
  const buckets = new Uint32Array(600_000);
  let count = 0;
  let max = 0;
  return {
    add(ms: number, n = 1) {
      const b = Math.min(buckets.length - 1, Math.max(0, Math.round(ms * 10)));
      buckets[b] = (buckets[b] as number) + n;
      count += n;
      if (ms > max) max = ms;
    },
    percentile(p: number): number {
      const target = Math.ceil((p / 100) * count);
      let seen = 0;
      for (let i = 0; i < buckets.length; i++) {
        seen += buckets[i] as number;
        if (seen >= target) return i / 10;
      }
      return max;
    },
    get count() {
      return count;
    },
    get max() {
      return max;
    },
  };
}

const db = await createBenchDatabase("ves_bench_subscribe");
const server = await spawnServer(db.url, { MAX_IN_FLIGHT_BATCHES: "2" });
const pid = server.child.pid as number;
try {
  const transport = benchTransport(server.url);
  const keys = createClient(KeyRegistryService, transport);
  const peakStreams = Array.from({ length: STREAMS }, makeStream);
  const pacedStreams = Array.from({ length: STREAMS }, makeStream);
  for (const s of [...peakStreams, ...pacedStreams]) {
    await keys.registerAgentKey({
      tenantId: s.tenantId,
      agentId: s.agentId,
      keyId: 1,
      publicKey: s.publicKey,
      proofOfPossession: proofOfPossession(s.publicKey, { sign: s.sign }, crypto),
    });
  }
  const address = server.url.replace("http://", "");
  const writers = Array.from({ length: STREAMS }, () => createRawAppendClient(address, BENCH_ADMIN_KEY));

  // The rate: half the peak, measured here as the ingest bench does, unless given.
  let peakRate: number | undefined;
  if (args.rate === undefined) {
    const perStream = Math.max(1, Math.round(Number(args["peak-events"]) / STREAMS / PEAK_BATCH));
    const peak = prepare(peakStreams, perStream, PEAK_BATCH, "peak events");
    const warm = peak.map((r) => r.slice(0, 2));
    await Promise.all(writers.map((w, i) => w.append(warm[i] as Uint8Array[])));
    const timed = peak.map((r) => r.slice(2));
    const n = timed.reduce((a, r) => a + r.length * PEAK_BATCH, 0);
    const t0 = performance.now();
    await Promise.all(writers.map((w, i) => w.append(timed[i] as Uint8Array[])));
    peakRate = n / ((performance.now() - t0) / 1000);
    process.stdout.write(`peak ingest: ${n} events at ${peakRate.toFixed(0)} events/s (no subscribers)\n`);
  }
  const rate = args.rate === undefined ? (peakRate as number) / 2 : Number(args.rate);
  const perStreamBatches = Math.max(1, Math.round((rate * SECONDS) / PACED_BATCH / STREAMS));
  const paced = prepare(pacedStreams, perStreamBatches, PACED_BATCH, "paced events");
  const perStreamEvents = perStreamBatches * PACED_BATCH;

  // Subscribers: spread over the first SUB_STREAMS paced streams and over CONNECTIONS HTTP/2 connections.
  const connections: RawSubscribeClient[] = Array.from({ length: CONNECTIONS }, () =>
    createRawSubscribeClient(address, BENCH_ADMIN_KEY),
  );
  const latency = createHistogram();
  /** Per delivered message: subscriber's stream index, first and last sequence, arrival ms. */
  const messages: [number, number, number, number][] = [];
  let ready = 0;
  let delivered = 0;
  const errors: string[] = [];
  const subscriptions = Array.from({ length: SUBSCRIBERS }, (_, i) => {
    const stream = pacedStreams[i % SUB_STREAMS] as Stream;
    let expected = 1n;
    let heard = false;
    let finished: () => void = () => {};
    const complete = new Promise<void>((r) => {
      finished = r;
    });
    const handle = (connections[i % CONNECTIONS] as RawSubscribeClient).subscribe(
      { tenantId: stream.tenantId, storeId: stream.storeId, fromSequence: 1n, heartbeatIntervalMs: 250 },
      (events, receivedAtMs) => {
        if (!heard) {
          heard = true;
          ready++;
        }
        const first = events[0];
        const last = events[events.length - 1];
        if (first !== undefined && last !== undefined) {
          messages.push([i % SUB_STREAMS, Number(first.sequence), Number(last.sequence), receivedAtMs]);
        }
        for (const e of events) {
          if (e.sequence !== expected) {
            errors.push(`subscriber ${i}: expected ${expected}, got ${e.sequence}`);
            expected = e.sequence;
          }
          expected++;
          latency.add(receivedAtMs - e.sequencedAtMs);
        }
        delivered += events.length;
        if (expected > BigInt(perStreamEvents)) finished();
      },
    );
    handle.done.catch((err: Error) => errors.push(`subscriber ${i}: ${err.message}`));
    return { handle, complete };
  });
  while (ready < SUBSCRIBERS) await new Promise((r) => setTimeout(r, 50)); // each has had its first heartbeat
  process.stdout.write(
    `${SUBSCRIBERS} subscribers live on ${SUB_STREAMS} stream(s) over ${CONNECTIONS} connections; pacing ${rate.toFixed(0)} events/s in batches of ${PACED_BATCH} for ${SECONDS} s\n`,
  );

  const listener = startTsWorker(new URL("./commitListener.ts", import.meta.url), { url: db.url });
  await once(listener, "message");
  server.resetPeak();
  const cpu0 = sampleCpu(pid);
  const intervalMs = (PACED_BATCH / rate) * 1000 * STREAMS;
  const start = performance.now() + 50;
  const bar = progress("paced ingest with live subscribers", perStreamEvents * STREAMS);
  const arrivals: number[][] = writers.map(() => []);
  // The writers' side, for comparison: from sequenced_at to the Append response (commit, receipts, response).
  const commitLatency = createHistogram();
  const responses = await Promise.all(
    writers.map((w, si) =>
      w.append(paced[si] as Uint8Array[], {
        due: (i) => start + (si * intervalMs) / STREAMS + i * intervalMs,
        onResponse: (i) => {
          bar.tick(PACED_BATCH);
          (arrivals[si] as number[])[i] = Date.now();
        },
      }),
    ),
  );
  bar.done();
  const ingestSeconds = (performance.now() - start) / 1000;
  const deadline = Date.now() + 30_000;
  await Promise.race([
    Promise.all(subscriptions.map((s) => s.complete)),
    new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()))),
  ]);
  const cpu = cpuBetween(cpu0, sampleCpu(pid));
  listener.postMessage("stop");
  const [{ seen }] = (await once(listener, "message")) as [{ seen: [string, number, number][] }];
  await listener.terminate();
  // Commit-to-delivery: arrival minus the commit instant of the batch that holds the event (the first commit
  // notification of its stream with a head at or past it).
  const commits = new Map<string, [number, number][]>();
  for (const [key, head, at] of seen) {
    const list = commits.get(key) ?? [];
    list.push([head, at]);
    commits.set(key, list);
  }
  const fromCommit = createHistogram();
  let unmatched = 0;
  for (const [streamIndex, first, last, at] of messages) {
    const stream = pacedStreams[streamIndex] as Stream;
    const list = commits.get(`${stream.tenantId}:${stream.storeId}`) ?? [];
    let lo = 0;
    for (let seqNo = first; seqNo <= last; seqNo++) {
      while (lo < list.length && (list[lo] as [number, number])[0] < seqNo) lo++;
      const commit = list[lo];
      if (commit === undefined) unmatched++;
      else fromCommit.add(at - commit[1]);
    }
  }
  for (const [si, list] of responses.entries()) {
    for (const [i, bytes] of list.entries()) {
      const sequencedAt = firstReceiptTimeOf(bytes);
      if (sequencedAt !== undefined)
        commitLatency.add(((arrivals[si] as number[])[i] as number) - sequencedAt);
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  for (const s of subscriptions) s.handle.cancel();
  for (const c of connections) c.close();
  for (const w of writers) w.close();
  const expectedDeliveries = SUBSCRIBERS * perStreamEvents;
  if (delivered !== expectedDeliveries || errors.length > 0) {
    throw new Error(
      `subscribers received ${delivered} events, expected ${expectedDeliveries}; ${errors.slice(0, 5).join("; ")}`,
    );
  }
  const rssMb = server.peakRssMb();
  process.stdout.write(
    `every subscriber received exactly 1..${perStreamEvents} of its stream (${delivered} deliveries); ` +
      `commit-to-delivery p50 ${fromCommit.percentile(50)} ms, p99 ${fromCommit.percentile(99)} ms, p99.9 ${fromCommit.percentile(99.9)} ms, max ${fromCommit.max.toFixed(1)} ms` +
      ` (commit = its NOTIFY reaching an idle listener thread; ${unmatched} events without one); ` +
      `from sequenced_at (under the lock, before receipts and commit): p50 ${latency.percentile(50)} ms, p99 ${latency.percentile(99)} ms, p99.9 ${latency.percentile(99.9)} ms, max ${latency.max.toFixed(1)} ms ` +
      `(the writers saw their Append responses p50 ${commitLatency.percentile(50)} ms, p99 ${commitLatency.percentile(99)} ms after sequenced_at); ` +
      `server peak RSS ${rssMb.toFixed(0)} MB; CPU: server ${fmt((cpu.server / elapsed) * 100, 0)}%, postgres ${fmt((cpu.postgres / elapsed) * 100, 0)}%, bench ${fmt((cpu.client / elapsed) * 100, 0)}%\n`,
  );
  const result = {
    bench: "subscribe",
    p50Ms: fromCommit.percentile(50),
    p99Ms: fromCommit.percentile(99),
    p999Ms: fromCommit.percentile(99.9),
    maxMs: fmt(fromCommit.max),
    fromSequencedAtMs: {
      p50: latency.percentile(50),
      p99: latency.percentile(99),
      p999: latency.percentile(99.9),
      max: fmt(latency.max),
    },
    appendResponseAfterSequencedAtMs: {
      p50: commitLatency.percentile(50),
      p99: commitLatency.percentile(99),
    },
    subscribers: SUBSCRIBERS,
    subscriberStreams: SUB_STREAMS,
    connections: CONNECTIONS,
    pacedEventsPerSec: Math.round(rate),
    achievedEventsPerSec: Math.round((perStreamEvents * STREAMS) / ingestSeconds),
    peakEventsPerSec: peakRate === undefined ? null : Math.round(peakRate),
    events: perStreamEvents * STREAMS,
    deliveries: delivered,
    batchSize: PACED_BATCH,
    streams: STREAMS,
    latency:
      "p50Ms..maxMs: subscriber arrival minus the commit instant (the commit's NOTIFY reaching an idle LISTEN thread of the bench); fromSequencedAtMs: arrival minus the receipt's sequenced_at (taken under the stream lock, before receipt signing and the commit)",
    serverPeakRssMb: Math.round(rssMb),
    cpuPercent: {
      server: fmt((cpu.server / elapsed) * 100, 0),
      postgres: fmt((cpu.postgres / elapsed) * 100, 0),
      bench: fmt((cpu.client / elapsed) * 100, 0),
    },
    machine: {
      cpus: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? "unknown",
      memGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverage: os.loadavg().map((l) => fmt(l, 2)),
    },
    database: "PostgreSQL on 127.0.0.1, synchronous_commit on",
    version: (
      JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
    ).version,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await server.stop();
  await db.drop();
}
