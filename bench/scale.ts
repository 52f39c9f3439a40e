// Scale benchmark: reads moved to a hot standby. A throwaway streaming-replication cluster (a primary and an
// asynchronous hot standby, test/support/pgCluster.ts) on this machine; one sequencer ingests on the primary,
// another serves Subscribe catch-up and live delivery. Twice, with the same load: once the readers' instance
// reads the primary, once it reads the standby (DATABASE_READ_URLS). Measured each time: the ingest rate and
// receipt latency of paced ingest at half the peak rate, catch-up and live delivery rates, live delivery lag,
// and the CPU each PostgreSQL server used. Prints figures with the machine and settings; the last line is JSON.
//
//   npm run bench -- scale [--peak-events 80000] [--streams 4] [--paced-seconds 8] [--catchup 2] [--live 4]
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { createSql } from "../src/infra/pg/createSql.js";
import { migrate, readMigrations } from "../src/infra/pg/migrate.js";
import { startPgCluster } from "../test/support/pgCluster.js";
import { runPacedDriver } from "./pacedDriver.js";
import { createRawAppendClient } from "./rawAppend.js";
import { type BenchStream, makeStream, percentile, prepare, registerStreams } from "./signedBatches.js";
import { createRawSubscribeClient } from "./subscribeClient.js";
import {
  BENCH_ADMIN_KEY,
  benchArgs,
  benchInt,
  benchMachine,
  benchTransport,
  progress,
  settle,
  spawnServer,
} from "./support.js";

const args = benchArgs(
  "scale",
  "Paced ingest at half the peak on a primary while subscribers read from the primary, then from a hot standby (its own PostgreSQL 15 primary and standby, initdb and pg_basebackup into a temp dir).",
  {
    "peak-events": {
      type: "string",
      default: "80000",
      help: "events of the peak phase; also what catch-up subscribers read",
    },
    streams: { type: "string", default: "4", help: "Append streams" },
    batch: { type: "string", default: "500", help: "events per batch at the peak" },
    "paced-batch": { type: "string", default: "100", help: "events per batch when paced" },
    "paced-seconds": {
      type: "string",
      default: "8",
      help: "length of each paced phase at half the peak rate (latency is measured after its first second)",
    },
    catchup: {
      type: "string",
      default: "2",
      help: "subscribers reading the peak streams from sequence 1, over and over",
    },
    live: { type: "string", default: "4", help: "subscribers following the paced streams live" },
  },
  "Starts its own PostgreSQL 15 primary and hot standby from /usr/lib/postgresql/15/bin; DATABASE_URL is not used.",
);
const PACED_WARMUP_MS = 1000;
const PEAK_EVENTS = benchInt("peak-events", args["peak-events"], 1);
const STREAMS = benchInt("streams", args.streams, 1);
const BATCH = benchInt("batch", args.batch, 1);
const PACED_BATCH = benchInt("paced-batch", args["paced-batch"], 1);
// Latencies are recorded after the warm-up second: a shorter phase would measure none.
const PACED_SECONDS = benchInt("paced-seconds", args["paced-seconds"], PACED_WARMUP_MS / 1000 + 1);
const CATCHUP = benchInt("catchup", args.catchup, 0);
const LIVE = benchInt("live", args.live, 0);
process.stderr.write(`machine: ${JSON.stringify(benchMachine())}\n`);
const fmt = (n: number, d = 1): number => Number(n.toFixed(d));

const CLOCK_TICKS = 100;

/** CPU seconds of one PostgreSQL server: its postmaster (from postmaster.pid) and every child of it. */
function clusterCpuSeconds(dataDir: string): number {
  let postmaster: number;
  try {
    postmaster = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return 0;
  }
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(entry) === postmaster || Number(f[1]) === postmaster) {
        total += (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
      }
    } catch {
      // exited while we looked
    }
  }
  return total;
}

async function metricValue(url: string, name: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { headers: { "x-api-key": BENCH_ADMIN_KEY } });
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

interface PhaseResult {
  readonly readsFrom: "primary" | "replica";
  readonly ingestEventsPerSec: number;
  readonly receiptP50Ms: number;
  readonly receiptP99Ms: number;
  readonly catchupEventsPerSec: number;
  readonly liveEventsPerSec: number;
  readonly liveLagP50Ms: number;
  readonly liveLagP99Ms: number;
  readonly primaryCpuPct: number;
  readonly replicaCpuPct: number;
  readonly readsByTarget: { primary: number; replica: number };
}

const stage = (what: string): void => {
  process.stderr.write(`${what}\n`);
};
stage("starting a PostgreSQL primary");
const cluster = await startPgCluster({ extraConf: ["max_wal_size = '2GB'"] });
const servers: { stop(): Promise<void> }[] = [];
const cleanup = async (): Promise<void> => {
  for (const s of servers.reverse()) await s.stop().catch(() => {});
  servers.length = 0;
  await cluster.destroy();
};
// Interrupted: stop the servers and the throwaway cluster all the same.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}
try {
  const migrator = createSql(cluster.primary.url(), { max: 1 });
  await migrate(migrator, await readMigrations(path.resolve(import.meta.dirname, "..", "migrations")));
  await migrator.end();
  stage("pg_basebackup: starting a hot standby");
  const standby = await cluster.addStandby("replica1");
  stage("starting three sequencers: writer, reads on the primary, reads on the standby");

  const writer = await spawnServer(cluster.primary.url());
  servers.push(writer);
  const readerEnv = { COMMIT_WORKER: "false", CRYPTO_WORKERS: "1" };
  const viaPrimary = await spawnServer(cluster.primary.url(), readerEnv);
  servers.push(viaPrimary);
  const viaReplica = await spawnServer(cluster.primary.url(), {
    ...readerEnv,
    DATABASE_READ_URLS: standby.url(),
    REPLICA_MAX_LAG_MS: "5000",
  });
  servers.push(viaReplica);
  const keys = createClient(KeyRegistryService, benchTransport(writer.url));
  const address = writer.url.replace("http://", "");

  const peakStreams = Array.from({ length: STREAMS }, makeStream);
  const pacedSets = [0, 1].map(() => Array.from({ length: STREAMS }, makeStream));
  await registerStreams(keys, [...peakStreams, ...pacedSets.flat()]);
  const peak = prepare(peakStreams, PEAK_EVENTS, BATCH, "peak events");
  const perPeakStream = peak.signed.length / STREAMS;
  // Enough for paced phases up to 15,000 events/s; the surplus is left unsent.
  const pools = pacedSets.map((s, i) =>
    prepare(s, 15_000 * PACED_SECONDS, PACED_BATCH, `paced events ${i + 1}`),
  );
  const warmups = pacedSets.map((s, i) => prepare(s, STREAMS * 100, 100, `warm-up ${i + 1}`));

  const clients = Array.from({ length: STREAMS }, () => createRawAppendClient(address, BENCH_ADMIN_KEY));
  const bar = progress("peak ingest", peak.signed.length);
  const t0 = performance.now();
  await Promise.all(
    clients.map((c, si) => c.append(peak.requests[si] ?? [], { onResponse: () => bar.tick(BATCH) })),
  );
  const peakRate = peak.signed.length / ((performance.now() - t0) / 1000);
  bar.done();
  for (const c of clients) c.close();
  peak.requests.length = 0;
  await cluster.waitForReplay(60_000);
  process.stdout.write(`peak: ${Math.round(peakRate)} events/s (${STREAMS} streams, batches of ${BATCH})\n`);

  const pacedRate = peakRate / 2;
  const perStreamBatches = Math.max(1, Math.round((pacedRate * PACED_SECONDS) / PACED_BATCH / STREAMS));
  const intervalMs = (PACED_BATCH / pacedRate) * 1000 * STREAMS;

  const phase = async (
    readsFrom: "primary" | "replica",
    readerUrl: string,
    set: number,
  ): Promise<PhaseResult> => {
    const streams = pacedSets[set] as BenchStream[];
    const pool = pools[set] as ReturnType<typeof prepare>;
    const warm = warmups[set] as ReturnType<typeof prepare>;
    const requests = pool.requests.map((r) => r.slice(0, perStreamBatches));
    const pacedCount = perStreamBatches * PACED_BATCH * STREAMS;
    const sub = createRawSubscribeClient(readerUrl.replace("http://", ""), BENCH_ADMIN_KEY);
    let catchupEvents = 0;
    let liveEvents = 0;
    const lags: number[] = [];
    let running = true;
    // Catch-up: read a peak stream from sequence 1 to its end, again and again, while ingest runs.
    const catchups = Array.from({ length: CATCHUP }, async (_, i) => {
      const s = peakStreams[i % STREAMS] as BenchStream;
      while (running) {
        let last = 0n;
        const h = sub.subscribe({ tenantId: s.tenantId, storeId: s.storeId, fromSequence: 1n }, (events) => {
          catchupEvents += events.length;
          const e = events[events.length - 1];
          if (e !== undefined) last = e.sequence;
          if (last >= BigInt(perPeakStream) || !running) h.cancel();
        });
        await h.done.catch(() => {});
      }
    });
    // Live: follow each paced stream from after its warm-up; lag = received - sequenced_at.
    const lives = Array.from({ length: LIVE }, (_, i) => {
      const s = streams[i % STREAMS] as BenchStream;
      const from = BigInt(warm.signed.length / STREAMS + 1);
      const h = sub.subscribe(
        { tenantId: s.tenantId, storeId: s.storeId, fromSequence: from },
        (events, at) => {
          liveEvents += events.length;
          for (const e of events) lags.push(at - e.sequencedAtMs);
        },
      );
      return h;
    });
    await settle();
    const readsBefore = {
      primary: await metricValue(readerUrl, 'ves_db_reads_total{target="primary"}'),
      replica: await metricValue(readerUrl, 'ves_db_reads_total{target="replica0"}'),
    };
    const cpu0 = { p: clusterCpuSeconds(cluster.primary.dataDir), r: clusterCpuSeconds(standby.dataDir) };
    const catchup0 = catchupEvents;
    const live0 = liveEvents;
    const start = performance.now();
    const pacedBar = progress(
      `paced ingest at ${Math.round(pacedRate)} events/s, reads from the ${readsFrom}`,
      pacedCount,
    );
    const { latencies } = await runPacedDriver(
      {
        address,
        apiKey: BENCH_ADMIN_KEY,
        warmup: warm.requests,
        requests,
        intervalMs,
        warmupMs: PACED_WARMUP_MS,
        trace: false,
      },
      () => pacedBar.tick(PACED_BATCH),
    );
    pacedBar.done();
    const seconds = (performance.now() - start) / 1000;
    const cpu1 = { p: clusterCpuSeconds(cluster.primary.dataDir), r: clusterCpuSeconds(standby.dataDir) };
    const catchupDelta = catchupEvents - catchup0;
    // Let the live subscribers receive the last events, then stop everything.
    const liveTarget = live0 + pacedCount * (LIVE / STREAMS);
    for (let i = 0; i < 100 && liveEvents < liveTarget; i++) await new Promise((r) => setTimeout(r, 50));
    const liveDelta = liveEvents - live0;
    running = false;
    for (const h of lives) h.cancel();
    await Promise.all([...catchups, ...lives.map((h) => h.done.catch(() => {}))]);
    sub.close();
    const readsAfter = {
      primary: await metricValue(readerUrl, 'ves_db_reads_total{target="primary"}'),
      replica: await metricValue(readerUrl, 'ves_db_reads_total{target="replica0"}'),
    };
    const sortedLat = Array.from(latencies);
    // The achieved ingest rate: the paced events over the schedule plus the last response's delay (the driver's
    // start-up and warm-up are not part of it).
    const scheduledMs = perStreamBatches * intervalMs;
    const ingestSeconds = (scheduledMs + (sortedLat[sortedLat.length - 1] ?? 0)) / 1000;
    lags.sort((a, b) => a - b);
    return {
      readsFrom,
      ingestEventsPerSec: Math.round(pacedCount / ingestSeconds),
      receiptP50Ms: fmt(percentile(sortedLat, 50)),
      receiptP99Ms: fmt(percentile(sortedLat, 99)),
      catchupEventsPerSec: Math.round(catchupDelta / seconds),
      liveEventsPerSec: Math.round(liveDelta / seconds),
      liveLagP50Ms: fmt(percentile(lags, 50)),
      liveLagP99Ms: fmt(percentile(lags, 99)),
      primaryCpuPct: Math.round(((cpu1.p - cpu0.p) / seconds) * 100),
      replicaCpuPct: Math.round(((cpu1.r - cpu0.r) / seconds) * 100),
      readsByTarget: {
        primary: readsAfter.primary - readsBefore.primary,
        replica: readsAfter.replica - readsBefore.replica,
      },
    };
  };

  const onPrimary = await phase("primary", viaPrimary.url, 0);
  await cluster.waitForReplay(60_000);
  const onReplica = await phase("replica", viaReplica.url, 1);
  for (const r of [onPrimary, onReplica]) {
    process.stdout.write(
      `reads from the ${r.readsFrom}: ingest ${r.ingestEventsPerSec} events/s, receipt p50 ${r.receiptP50Ms} ms p99 ${r.receiptP99Ms} ms; ` +
        `catch-up delivery ${r.catchupEventsPerSec} events/s (${CATCHUP} subscribers), live delivery ${r.liveEventsPerSec} events/s ` +
        `(${LIVE} subscribers, lag p50 ${r.liveLagP50Ms} ms p99 ${r.liveLagP99Ms} ms); CPU primary ${r.primaryCpuPct} %, standby ${r.replicaCpuPct} %; ` +
        (r.readsFrom === "replica"
          ? `read queries of the readers' instance: primary ${r.readsByTarget.primary}, replica ${r.readsByTarget.replica}\n`
          : "\n"),
    );
  }
  const result = {
    bench: "scale",
    peakEventsPerSec: Math.round(peakRate),
    pacedEventsPerSec: Math.round(pacedRate),
    readsOnPrimary: onPrimary,
    readsOnReplica: onReplica,
    settings: {
      peakEvents: peak.signed.length,
      streams: STREAMS,
      batch: BATCH,
      pacedBatch: PACED_BATCH,
      pacedSeconds: PACED_SECONDS,
      catchupSubscribers: CATCHUP,
      catchupStreamEvents: perPeakStream,
      liveSubscribers: LIVE,
    },
    machine: {
      ...benchMachine(),
      note: "primary, standby, three sequencer processes and the bench client share this machine",
    },
    database:
      "PostgreSQL 15 primary + asynchronous hot standby on 127.0.0.1 (throwaway cluster), synchronous_commit on",
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await cleanup();
}
