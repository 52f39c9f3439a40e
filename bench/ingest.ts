import os from "node:os";
import { fromBinary } from "@bufbuild/protobuf";
import postgres from "postgres";
import { AppendResponseSchema } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../src/client/signEvent.js";
import { verifyReceipt } from "../src/client/verifyReceipt.js";
import { runPacedDriver } from "./pacedDriver.js";
import { createRawAppendClient } from "./rawAppend.js";
import {
  benchCrypto,
  makeStream,
  type Prepared,
  percentile,
  prepare,
  registerStreams,
} from "./signedBatches.js";
import {
  BENCH_ADMIN_KEY,
  benchArgs,
  benchInt,
  benchMachine,
  cpuBetween,
  progress,
  sampleCpu,
  startBench,
} from "./support.js";

const args = benchArgs(
  "ingest",
  "Peak ingest through Append over several streams, then receipt latency at half that rate.",
  {
    events: { type: "string", default: "200000", help: "events in the peak phase" },
    batch: { type: "string", default: "500", help: "events per batch in the peak phase" },
    "paced-batch": { type: "string", default: "100", help: "events per batch in the paced phase" },
    streams: {
      type: "string",
      default: "4",
      help: "concurrent Append streams, one connection and one (tenant, store) each; 1 measures one stream's ceiling",
    },
    inflight: {
      type: "string",
      default: "2",
      help: "batches in flight per stream (server MAX_IN_FLIGHT_BATCHES)",
    },
    "paced-seconds": {
      type: "string",
      default: "15",
      help: "length of the paced phase at half the peak rate (latency is measured after its first second)",
    },
    "crypto-workers": {
      type: "string",
      default: String(os.availableParallelism()),
      help: "server crypto worker threads",
    },
  },
);
const PACED_WARMUP_MS = 1000;
const EVENTS = benchInt("events", args.events, 1);
const BATCH = benchInt("batch", args.batch, 1);
const PACED_BATCH = benchInt("paced-batch", args["paced-batch"], 1);
const STREAMS = benchInt("streams", args.streams, 1);
const INFLIGHT = benchInt("inflight", args.inflight, 1);
// Latencies are recorded after the warm-up second: a shorter phase would measure none.
const PACED_SECONDS = benchInt("paced-seconds", args["paced-seconds"], PACED_WARMUP_MS / 1000 + 1);
benchInt("crypto-workers", args["crypto-workers"], 1);
const crypto = benchCrypto;

/** What verifying a receipt needs of each event sent: its signing hash, by event id. */
function expectations(sent: readonly SignedEvent[]): Map<string, Uint8Array> {
  return new Map(sent.map((e) => [e.eventId, e.signingHash]));
}

/** Decodes responses and verifies every receipt against the events sent; returns how many were verified. */
function verifyResponses(
  raws: Uint8Array[],
  expected: Map<string, Uint8Array>,
  sequencerKey: Uint8Array,
  tick: () => void,
): number {
  let n = 0;
  for (const raw of raws) {
    const res = fromBinary(AppendResponseSchema, raw);
    if (res.kind.case !== "batchResult") throw new Error("unexpected response kind");
    if (res.kind.value.error !== undefined) throw new Error(`batch refused: ${res.kind.value.error.message}`);
    for (const r of res.kind.value.results) {
      if (r.outcome.case !== "receipt") throw new Error(`event rejected: ${JSON.stringify(r.outcome.value)}`);
      const signingHash = expected.get(r.eventId);
      if (signingHash === undefined) throw new Error(`a receipt for an event not sent: ${r.eventId}`);
      const verdict = verifyReceipt(r.outcome.value, sequencerKey, {
        expectedSigningHash: signingHash,
        ...crypto,
      });
      if (!verdict.valid) throw new Error(`receipt of ${r.eventId} does not verify: ${verdict.reason}`);
      expected.delete(r.eventId);
      n++;
      tick();
    }
  }
  return n;
}

const fmt = (n: number, d = 1): number => Number(n.toFixed(d));

const bench = await startBench("ves_bench_ingest", {
  CRYPTO_WORKERS: args["crypto-workers"],
  MAX_IN_FLIGHT_BATCHES: String(INFLIGHT),
});
const { server, pid, keys, sequencerKey, address } = bench;
try {
  const peakStreams = Array.from({ length: STREAMS }, makeStream);
  const pacedStreams = Array.from({ length: STREAMS }, makeStream);
  await registerStreams(keys, [...peakStreams, ...pacedStreams]);
  const clients = Array.from({ length: STREAMS }, () => createRawAppendClient(address, BENCH_ADMIN_KEY));
  // Warm up: one small batch per stream of the paced set's keys (JIT, connections, worker start-up).
  const warm = prepare(pacedStreams, STREAMS * 100, 100, "warm-up");
  await Promise.all(clients.map((c, i) => c.append(warm.requests[i] as Uint8Array[])));
  const rewarm = prepare(pacedStreams, STREAMS * 200, 100, "second warm-up");

  // Everything is signed and encoded before anything is timed. The paced phase's rate is only known after
  // the peak phase, so enough paced events are prepared for up to 15,000 events/s and the surplus is unused.
  const peak = prepare(peakStreams, EVENTS, BATCH, "peak events");
  const pacedPool = prepare(pacedStreams, Math.round(15_000 * PACED_SECONDS), PACED_BATCH, "paced events");
  (globalThis as { gc?: () => void }).gc?.();
  server.resetPeak();
  const bar = progress("peak ingest", peak.signed.length);
  const cpu0 = sampleCpu(pid);
  const t0 = performance.now();
  const peakResponses = await Promise.all(
    clients.map((c, si) =>
      c.append(peak.requests[si] as Uint8Array[], { onResponse: () => bar.tick(BATCH) }),
    ),
  );
  const peakSeconds = (performance.now() - t0) / 1000;
  const peakCpu = cpuBetween(cpu0, sampleCpu(pid));
  bar.done();
  const eventsPerSec = peak.signed.length / peakSeconds;
  const peakEvents = peak.signed.length;
  const perEvent = (s: number): number => fmt((s / peakEvents) * 1e6, 0);
  process.stdout.write(
    `peak: ${peak.signed.length} events in ${peakSeconds.toFixed(2)} s = ${eventsPerSec.toFixed(0)} events/s; ` +
      `CPU per event: server ${perEvent(peakCpu.server)} µs, postgres ${perEvent(peakCpu.postgres)} µs, bench client ${perEvent(peakCpu.client)} µs\n`,
  );

  // The peak's receipts are verified now, outside any timing, and everything the paced phase does not need
  // is dropped (the paced phase measures latency in a worker thread of its own, bench/pacedDriver.ts).
  const verifyBar = progress("verifying receipts", peak.signed.length);
  let verified = verifyResponses(peakResponses.flat(), expectations(peak.signed), sequencerKey, () =>
    verifyBar.tick(),
  );
  verifyBar.done();
  peak.requests.length = 0;
  peakResponses.length = 0;
  peak.signed.length = 0;

  // Paced: half the peak rate spread evenly over the streams; latency = request written to response received.
  const pacedRate = eventsPerSec / 2;
  const perStreamBatches = Math.max(1, Math.round((pacedRate * PACED_SECONDS) / PACED_BATCH / STREAMS));
  const paced: Prepared = {
    requests: pacedPool.requests.map((r) => r.slice(0, perStreamBatches)),
    signed: pacedPool.signed.filter(
      (_, i) => i % (pacedPool.signed.length / STREAMS) < perStreamBatches * PACED_BATCH,
    ),
  };
  pacedPool.requests.length = 0;
  pacedPool.signed.length = 0;
  const pacedCount = paced.signed.length;
  const pacedExpected = expectations(paced.signed);
  paced.signed.length = 0;
  for (const c of clients) c.close();
  (globalThis as { gc?: () => void }).gc?.();
  const intervalMs = (PACED_BATCH / pacedRate) * 1000 * STREAMS;
  const pacedBar = progress(`paced ingest at ${pacedRate.toFixed(0)} events/s`, pacedCount);
  const {
    latencies: pacedLatencies,
    slow,
    responses: pacedResponses,
  } = await runPacedDriver(
    {
      address,
      apiKey: BENCH_ADMIN_KEY,
      warmup: rewarm.requests,
      requests: paced.requests,
      intervalMs,
      warmupMs: PACED_WARMUP_MS,
      trace: process.env.BENCH_TRACE !== undefined,
    },
    () => pacedBar.tick(PACED_BATCH),
  );
  pacedBar.done();
  const latencies = Array.from(pacedLatencies);
  if (process.env.BENCH_TRACE) {
    process.stderr.write(`slow batches (due ms, latency ms): ${JSON.stringify(slow)}\n`);
  }
  const rssMb = server.peakRssMb();

  // After timing: verify the paced receipts too, and check the database holds exactly the events.
  const pacedBar2 = progress("verifying receipts", pacedCount);
  verified += verifyResponses(pacedResponses.flat(), pacedExpected, sequencerKey, () => pacedBar2.tick());
  pacedBar2.done();
  const total = peakEvents + pacedCount;
  if (verified !== total) throw new Error(`${total - verified} events got no receipt`);
  const sql = postgres(bench.db.url, { max: 1, onnotice: () => {} });
  const [row] = await sql<{ n: bigint; misplaced: bigint }[]>`
    select count(*)::bigint as n, count(*) filter (where sequence_number <> expected)::bigint as misplaced
    from (select sequence_number,
                 row_number() over (partition by tenant_id, store_id order by sequence_number) as expected
          from events) t`;
  await sql.end();
  const expectedRows = total + warm.signed.length + rewarm.signed.length;
  if (Number(row?.n) !== expectedRows || Number(row?.misplaced) !== 0) {
    throw new Error(
      `database holds ${row?.n} events (${row?.misplaced} out of place), expected ${expectedRows}`,
    );
  }
  process.stdout.write(
    `verified ${total} receipts; the database holds exactly ${row?.n} events, 1..N per stream with no gaps\n` +
      `paced: ${pacedCount} events at ${pacedRate.toFixed(0)} events/s in batches of ${PACED_BATCH}: ` +
      `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; server peak RSS ${rssMb.toFixed(0)} MB\n`,
  );

  const result = {
    bench: "ingest",
    eventsPerSec: Math.round(eventsPerSec),
    p50Ms: fmt(percentile(latencies, 50)),
    p99Ms: fmt(percentile(latencies, 99)),
    p999Ms: fmt(percentile(latencies, 99.9)),
    maxMs: fmt(latencies[latencies.length - 1] ?? Number.NaN),
    rssMb: Math.round(rssMb),
    events: peakEvents,
    batchSize: BATCH,
    streams: STREAMS,
    pacedEventsPerSec: Math.round(pacedRate),
    pacedEvents: pacedCount,
    pacedBatchSize: PACED_BATCH,
    pacedWarmupMs: PACED_WARMUP_MS,
    inFlightPerStream: INFLIGHT,
    cryptoWorkers: Number(args["crypto-workers"]),
    cpuUsPerEvent: {
      server: perEvent(peakCpu.server),
      postgres: perEvent(peakCpu.postgres),
      benchClient: perEvent(peakCpu.client),
    },
    machine: benchMachine(),
    database: "PostgreSQL on 127.0.0.1, synchronous_commit on",
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await bench.stop();
}
