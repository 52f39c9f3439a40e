import { once } from "node:events";
import { startTsWorker } from "../src/infra/startTsWorker.js";
import { createRawAppendClient } from "./rawAppend.js";
import { type BenchStream, makeStream, prepare, registerStreams } from "./signedBatches.js";
import { createRawSubscribeClient, firstReceiptTimeOf, type RawSubscribeClient } from "./subscribeClient.js";
import {
  BENCH_ADMIN_KEY,
  benchArgs,
  benchMachine,
  cpuBetween,
  progress,
  sampleCpu,
  startBench,
} from "./support.js";

const args = benchArgs(
  "subscribe",
  "Commit -> delivery latency of live subscribers while events are ingested at half the peak rate.",
  {
    subscribers: { type: "string", default: "100", help: "live subscribers" },
    "subscriber-streams": {
      type: "string",
      default: "4",
      help: "how many of the paced streams they follow, evenly (4: all of them)",
    },
    connections: { type: "string", default: "10", help: "HTTP/2 connections the subscribers share" },
    "peak-events": { type: "string", default: "80000", help: "events of the peak phase that sets the rate" },
    rate: { type: "string", help: "paced events/s; skips the peak phase (default: half the measured peak)" },
    seconds: { type: "string", default: "15", help: "length of the paced phase" },
    batch: { type: "string", default: "100", help: "events per batch in the paced phase" },
    streams: { type: "string", default: "4", help: "streams written concurrently" },
  },
);
const SUBSCRIBERS = Number(args.subscribers);
const STREAMS = Number(args.streams);
const SUB_STREAMS = Math.min(STREAMS, Number(args["subscriber-streams"]));
const CONNECTIONS = Number(args.connections);
const PACED_BATCH = Number(args.batch);
const SECONDS = Number(args.seconds);
const PEAK_BATCH = 500;
const fmt = (n: number, d = 1): number => Number(n.toFixed(d));

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

const bench = await startBench("ves_bench_subscribe", { MAX_IN_FLIGHT_BATCHES: "2" });
const { server, pid, address } = bench;
try {
  const peakStreams = Array.from({ length: STREAMS }, makeStream);
  const pacedStreams = Array.from({ length: STREAMS }, makeStream);
  await registerStreams(bench.keys, [...peakStreams, ...pacedStreams]);
  const writers = Array.from({ length: STREAMS }, () => createRawAppendClient(address, BENCH_ADMIN_KEY));

  // The rate: half the peak, measured here as the ingest bench does, unless given.
  let peakRate: number | undefined;
  if (args.rate === undefined) {
    const perStream = Math.max(1, Math.round(Number(args["peak-events"]) / STREAMS / PEAK_BATCH));
    const peak = prepare(peakStreams, perStream * PEAK_BATCH * STREAMS, PEAK_BATCH, "peak events").requests;
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
  const paced = prepare(
    pacedStreams,
    perStreamBatches * PACED_BATCH * STREAMS,
    PACED_BATCH,
    "paced events",
  ).requests;
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
    const stream = pacedStreams[i % SUB_STREAMS] as BenchStream;
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

  const listener = startTsWorker(new URL("./commitListener.ts", import.meta.url), { url: bench.db.url });
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
    const stream = pacedStreams[streamIndex] as BenchStream;
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
    machine: benchMachine(),
    database: "PostgreSQL on 127.0.0.1, synchronous_commit on",
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await bench.stop();
}
