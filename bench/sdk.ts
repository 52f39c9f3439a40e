// SDK benchmark: the ingest bench's peak workload (signed ~300-byte order events over 4 streams, one connection
// each), once through raw pre-encoded Append requests and once through the SDK producer (createAgent from the
// Node entry, default settings: batches of 500, 5 ms linger, 4 in flight, every receipt verified before an append
// resolves), against the same server in the same run. Events are signed before timing in both phases; the SDK
// phase's window includes its protobuf encoding, batching, response decoding and receipt verification.
//
// Two CPU layouts, each a raw phase then an SDK phase on fresh streams:
//   shared  client, server and PostgreSQL share every core. The raw client costs next to nothing, while the SDK
//           verifies one Ed25519 signature per receipt (the client's largest cost), taken from the server's CPU.
//   pinned  the server and its PostgreSQL on core 0, this client on core 1 (taskset), as an agent on its own
//           machine would be: the ratio then says whether the SDK keeps the sequencer as busy as raw pre-encoded
//           requests do.
// The bench runs its own PostgreSQL cluster (the embedded PostgreSQL 15, in a temporary directory), so that it
// can pin the database's processes without touching the machine's shared server.
// Prints figures with the machine, settings and CPU per event of each process (the client's includes its worker
// threads), and the client's main-thread event-loop utilization during the SDK phase; the last line is one JSON
// object. --verify-threads N: the agents verify receipts in N worker threads (createAgent's verifyThreads; agents
// asking for the same count share one pool).
//
//   npm run bench -- sdk [--events 200000] [--streams 4] [--layouts shared,pinned] [--verify-threads 0]
import { availableParallelism } from "node:os";
import type { AppendResult } from "../src/client/createAgent.js";
import { createAgent } from "../src/node/createAgent.js";
import { createRawAppendClient } from "./rawAppend.js";
import { benchCrypto, makeStream, prepare, registerStreams } from "./signedBatches.js";
import {
  BENCH_ADMIN_KEY,
  benchArgs,
  benchInt,
  benchMachine,
  type CpuSample,
  cpuBetween,
  createBenchDatabase,
  pinCpus,
  progress,
  sampleCpu,
  startBench,
  startBenchPostgres,
} from "./support.js";

const args = benchArgs(
  "sdk",
  "The ingest peak workload through raw pre-encoded Append (batches of 500, 4 in flight) and through createAgent with default settings, against the same server, with the CPUs shared and with the client pinned to a core of its own.",
  {
    events: { type: "string", default: "200000", help: "events per phase" },
    streams: { type: "string", default: "4", help: "streams, one connection and one agent each" },
    layouts: {
      type: "string",
      default: "shared,pinned",
      help: "CPU layouts to run: shared (all cores for everyone), pinned (server on core 0, client on core 1)",
    },
    "verify-threads": {
      type: "string",
      default: "0",
      help: "receipt-verification worker threads (createAgent's verifyThreads, one pool shared by the agents; 0 = on the event loop)",
    },
  },
);
const EVENTS = benchInt("events", args.events, 1);
const STREAMS = benchInt("streams", args.streams, 1);
const VERIFY_THREADS = benchInt("verify-threads", args["verify-threads"], 0);
const LAYOUTS = args.layouts.split(",").map((l) => l.trim());
for (const l of LAYOUTS) {
  if (l !== "shared" && l !== "pinned") {
    process.stderr.write(`--layouts: expected shared and/or pinned, got ${JSON.stringify(l)}\n`);
    process.exit(2);
  }
}
if (LAYOUTS.includes("pinned") && availableParallelism() < 2) {
  process.stderr.write("--layouts pinned needs at least 2 CPUs\n");
  process.exit(2);
}
const BATCH = 500;
const INFLIGHT = 4;
const ALL_CPUS = `0-${availableParallelism() - 1}`;

interface PhaseFigures {
  eventsPerSec: number;
  seconds: number;
  /** CPU microseconds per event: this client, the server (all threads), every PostgreSQL process. */
  cpuUsPerEvent: { client: number; server: number; postgres: number };
  /** The client's main-thread event-loop utilization over the phase (0..1). */
  clientEventLoopUtilization?: number;
}

function perEvent(cpu: CpuSample, events: number): PhaseFigures["cpuUsPerEvent"] {
  const us = (s: number): number => Math.round((s * 1e6) / events);
  return { client: us(cpu.client), server: us(cpu.server), postgres: us(cpu.postgres) };
}

const cluster = await startBenchPostgres();
/** CPU µs of one Ed25519 verification here (the SDK's irreducible cost per receipt), before any phase runs. */
function ed25519VerifyMicros(n = 4000): number {
  const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const sign = benchCrypto.ed25519.createSigner(seed);
  const publicKey = benchCrypto.ed25519.getPublicKey(seed);
  const messages = Array.from({ length: n }, () => globalThis.crypto.getRandomValues(new Uint8Array(32)));
  const signatures = messages.map((m) => sign(m));
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    if (!benchCrypto.ed25519.verify(signatures[i] as Uint8Array, messages[i] as Uint8Array, publicKey)) {
      throw new Error("a valid signature did not verify");
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return Math.round((cpu.user + cpu.system) / n);
}

const bench = await startBench(
  "ves_bench_sdk",
  { MAX_IN_FLIGHT_BATCHES: String(INFLIGHT) },
  await createBenchDatabase("ves_bench_sdk", cluster.url),
).catch(async (err: unknown) => {
  await cluster.stop();
  throw err;
});
const { server, sequencerKey, pid } = bench;
const results: Record<string, { raw: PhaseFigures; sdk: PhaseFigures; sdkOverRaw: number }> = {};
try {
  const warmStreams = Array.from({ length: STREAMS }, makeStream);
  await registerStreams(bench.keys, warmStreams);
  const warmClients = warmStreams.map(() => createRawAppendClient(bench.address, BENCH_ADMIN_KEY));
  const warm = prepare(warmStreams, STREAMS * 1000, 100, "warm-up");
  await Promise.all(warmClients.map((c, i) => c.append(warm.requests[i] as Uint8Array[])));
  for (const c of warmClients) c.close();
  const verifyUs = ed25519VerifyMicros();
  process.stdout.write(
    `one Ed25519 verification in this process (libsodium, what the SDK does per receipt): ${verifyUs} µs\n`,
  );

  for (const layout of LAYOUTS) {
    const rawStreams = Array.from({ length: STREAMS }, makeStream);
    const sdkStreams = Array.from({ length: STREAMS }, makeStream);
    await registerStreams(bench.keys, [...rawStreams, ...sdkStreams]);
    const raw = prepare(rawStreams, EVENTS, BATCH, `raw events (${layout})`);
    const sdk = prepare(sdkStreams, EVENTS, BATCH, `SDK events (${layout})`);
    sdk.requests.length = 0; // the SDK encodes its own batches
    if (layout === "pinned") {
      pinCpus(pid, "0");
      cluster.pin("0");
      pinCpus(process.pid, "1");
    }
    try {
      // Raw: pre-encoded batches, pipelined by HTTP/2 flow control (the ingest bench's peak phase).
      const clients = rawStreams.map(() => createRawAppendClient(bench.address, BENCH_ADMIN_KEY));
      const rawBar = progress(`raw Append (${layout})`, raw.signed.length);
      let cpu0 = sampleCpu(pid);
      let t0 = performance.now();
      await Promise.all(
        clients.map((c, i) =>
          c.append(raw.requests[i] as Uint8Array[], { onResponse: () => rawBar.tick(BATCH) }),
        ),
      );
      const rawSeconds = (performance.now() - t0) / 1000;
      const rawCpu = cpuBetween(cpu0, sampleCpu(pid));
      rawBar.done();
      for (const c of clients) c.close();
      raw.requests.length = 0;

      // SDK: one agent per stream, default settings; every append awaited for its verified receipt.
      const perStream = sdk.signed.length / STREAMS;
      const agents = sdkStreams.map((s) =>
        createAgent({
          url: server.url,
          credential: BENCH_ADMIN_KEY,
          signer: { sign: s.sign },
          tenantId: s.tenantId,
          storeId: s.storeId,
          sourceAgentId: s.agentId,
          agentKeyId: 1,
          sequencerKey,
          crypto: benchCrypto,
          verifyThreads: VERIFY_THREADS,
        }),
      );
      const sdkBar = progress(`SDK createAgent (${layout})`, sdk.signed.length);
      let replayed = 0;
      cpu0 = sampleCpu(pid);
      const elu0 = performance.eventLoopUtilization();
      t0 = performance.now();
      await Promise.all(
        agents.map(async (agent, si) => {
          const pending: Promise<AppendResult>[] = [];
          for (let i = si * perStream; i < (si + 1) * perStream; i++) {
            await agent.ready();
            pending.push(
              agent.appendSigned(sdk.signed[i] as (typeof sdk.signed)[number]).then((r) => {
                sdkBar.tick();
                if (r.replayed) replayed++;
                return r;
              }),
            );
          }
          await Promise.all(pending);
          await agent.close();
        }),
      );
      const sdkSeconds = (performance.now() - t0) / 1000;
      const sdkCpu = cpuBetween(cpu0, sampleCpu(pid));
      const sdkElu = performance.eventLoopUtilization(elu0).utilization;
      sdkBar.done();
      if (replayed !== 0) throw new Error(`${replayed} SDK events were replays`);

      const rawFig: PhaseFigures = {
        eventsPerSec: Math.round(raw.signed.length / rawSeconds),
        seconds: Number(rawSeconds.toFixed(2)),
        cpuUsPerEvent: perEvent(rawCpu, raw.signed.length),
      };
      const sdkFig: PhaseFigures = {
        eventsPerSec: Math.round(sdk.signed.length / sdkSeconds),
        seconds: Number(sdkSeconds.toFixed(2)),
        cpuUsPerEvent: perEvent(sdkCpu, sdk.signed.length),
        clientEventLoopUtilization: Number(sdkElu.toFixed(3)),
      };
      const ratio = sdkFig.eventsPerSec / rawFig.eventsPerSec;
      results[layout] = { raw: rawFig, sdk: sdkFig, sdkOverRaw: Number(ratio.toFixed(3)) };
      const cpuLine = (c: PhaseFigures["cpuUsPerEvent"]): string =>
        `CPU per event: client ${c.client} µs, server ${c.server} µs, PostgreSQL ${c.postgres} µs`;
      process.stdout.write(
        `[${layout}] raw Append: ${raw.signed.length} events in ${rawFig.seconds} s = ${rawFig.eventsPerSec} events/s; ${cpuLine(rawFig.cpuUsPerEvent)}\n` +
          `[${layout}] SDK (createAgent, defaults, receipts verified${VERIFY_THREADS > 0 ? ` in a pool of ${VERIFY_THREADS} threads shared by the agents` : ""}): ${sdk.signed.length} events in ${sdkFig.seconds} s = ${sdkFig.eventsPerSec} events/s; ${cpuLine(sdkFig.cpuUsPerEvent)}; client event loop busy ${(sdkElu * 100).toFixed(1)} %\n` +
          `[${layout}] SDK / raw = ${(ratio * 100).toFixed(1)} %\n`,
      );
    } finally {
      if (layout === "pinned") {
        pinCpus(pid, ALL_CPUS);
        cluster.pin(ALL_CPUS);
        pinCpus(process.pid, ALL_CPUS);
      }
    }
  }
  process.stdout.write(
    `${JSON.stringify({
      bench: "sdk",
      layouts: results,
      ed25519VerifyUs: verifyUs,
      eventsPerPhase: EVENTS,
      streams: STREAMS,
      rawBatchSize: BATCH,
      inFlightPerStream: INFLIGHT,
      sdkSettings: "defaults (batchSize 500, lingerMs 5, maxInFlight 4, bufferEvents 10000)",
      verifyThreads: VERIFY_THREADS,
      machine: benchMachine(),
    })}\n`,
  );
} finally {
  await bench.stop();
  await cluster.stop();
}
