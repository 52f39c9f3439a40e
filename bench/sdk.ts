// SDK benchmark: the ingest bench's peak workload (signed ~300-byte order events over 4 streams, one connection
// each), once through raw pre-encoded Append requests and once through the SDK producer (createAgent from the
// Node entry, default settings: batches of 500, 5 ms linger, 4 in flight, every receipt verified before an append
// resolves), against the same server in the same run. Events are signed before timing in both phases; the SDK
// phase's window includes its protobuf encoding, batching and receipt verification. Prints figures with the
// machine and settings; the last line is one JSON object.
//
//   npm run bench -- sdk [--events 200000] [--streams 4]
import type { AppendResult } from "../src/client/createAgent.js";
import { createAgent } from "../src/node/createAgent.js";
import { createRawAppendClient } from "./rawAppend.js";
import { benchCrypto, makeStream, prepare, registerStreams } from "./signedBatches.js";
import { BENCH_ADMIN_KEY, benchArgs, benchMachine, progress, startBench } from "./support.js";

const args = benchArgs(
  "sdk",
  "The ingest peak workload through raw pre-encoded Append (batches of 500, 4 in flight) and through createAgent with default settings, against the same server.",
  {
    events: { type: "string", default: "200000", help: "events per phase" },
    streams: { type: "string", default: "4", help: "streams, one connection and one agent each" },
  },
);
const EVENTS = Number(args.events);
const STREAMS = Number(args.streams);
const BATCH = 500;
const INFLIGHT = 4;

const bench = await startBench("ves_bench_sdk", { MAX_IN_FLIGHT_BATCHES: String(INFLIGHT) });
const { server, sequencerKey } = bench;
try {
  const rawStreams = Array.from({ length: STREAMS }, makeStream);
  const sdkStreams = Array.from({ length: STREAMS }, makeStream);
  const warmStreams = Array.from({ length: STREAMS }, makeStream);
  await registerStreams(bench.keys, [...rawStreams, ...sdkStreams, ...warmStreams]);
  const clients = Array.from({ length: STREAMS }, () =>
    createRawAppendClient(bench.address, BENCH_ADMIN_KEY),
  );
  const warm = prepare(warmStreams, STREAMS * 1000, 100, "warm-up");
  await Promise.all(clients.map((c, i) => c.append(warm.requests[i] as Uint8Array[])));

  const raw = prepare(rawStreams, EVENTS, BATCH, "raw events");
  const sdk = prepare(sdkStreams, EVENTS, BATCH, "SDK events");
  sdk.requests.length = 0; // the SDK encodes its own batches

  // Raw: pre-encoded batches, pipelined by HTTP/2 flow control (the ingest bench's peak phase).
  const rawBar = progress("raw Append", raw.signed.length);
  let t0 = performance.now();
  await Promise.all(
    clients.map((c, i) =>
      c.append(raw.requests[i] as Uint8Array[], { onResponse: () => rawBar.tick(BATCH) }),
    ),
  );
  const rawSeconds = (performance.now() - t0) / 1000;
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
    }),
  );
  const sdkBar = progress("SDK createAgent", sdk.signed.length);
  let replayed = 0;
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
  sdkBar.done();
  if (replayed !== 0) throw new Error(`${replayed} SDK events were replays`);

  const rawRate = raw.signed.length / rawSeconds;
  const sdkRate = sdk.signed.length / sdkSeconds;
  const ratio = sdkRate / rawRate;
  process.stdout.write(
    `raw Append: ${raw.signed.length} events in ${rawSeconds.toFixed(2)} s = ${rawRate.toFixed(0)} events/s\n` +
      `SDK (createAgent, defaults, receipts verified): ${sdk.signed.length} events in ${sdkSeconds.toFixed(2)} s = ${sdkRate.toFixed(0)} events/s\n` +
      `SDK / raw = ${(ratio * 100).toFixed(1)} %\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      bench: "sdk",
      rawEventsPerSec: Math.round(rawRate),
      sdkEventsPerSec: Math.round(sdkRate),
      sdkOverRaw: Number(ratio.toFixed(3)),
      events: raw.signed.length,
      streams: STREAMS,
      rawBatchSize: BATCH,
      inFlightPerStream: INFLIGHT,
      sdkSettings: "defaults (batchSize 500, lingerMs 5, maxInFlight 4, bufferEvents 10000)",
      machine: benchMachine(),
    })}\n`,
  );
} finally {
  await bench.stop();
}
