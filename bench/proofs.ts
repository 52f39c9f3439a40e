import os from "node:os";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import {
  GetInclusionProofRequestSchema,
  GetInclusionProofResponseSchema,
  GetInclusionProofsRequestSchema,
  GetInclusionProofsResponseSchema,
  ProofService,
} from "../gen/ves/sequencer/v1/proof_pb.js";
import { AppendResponseSchema } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { verifyCheckpointSignature } from "../src/client/verifyCheckpointSignature.js";
import { verifyInclusionProof } from "../src/client/verifyInclusionProof.js";
import { verifyReceipt } from "../src/client/verifyReceipt.js";
import { buildMerkleTree, leafHash } from "../src/crypto/merkle.js";
import { nativeSha256 } from "../src/crypto/native.js";
import { createRawAppendClient } from "./rawAppend.js";
import {
  type BenchStream,
  benchCrypto,
  makeStream,
  percentile,
  prepare,
  registerStreams,
} from "./signedBatches.js";
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
  "proofs",
  "Sealing under peak ingest, receipt -> inclusion proof latency, and proof throughput on sealed events.",
  {
    events: {
      type: "string",
      default: "100000",
      help: "events in the peak ingest phase (skipped with --rate)",
    },
    batch: { type: "string", default: "500", help: "events per batch in the peak phase" },
    "paced-batch": { type: "string", default: "100", help: "events per batch in the paced phase" },
    streams: {
      type: "string",
      default: "4",
      help: "concurrent Append streams, one connection and one (tenant, store) each",
    },
    inflight: {
      type: "string",
      default: "2",
      help: "batches in flight per stream (server MAX_IN_FLIGHT_BATCHES)",
    },
    "paced-seconds": { type: "string", default: "15", help: "length of the paced phase" },
    rate: { type: "string", help: "paced rate in events/s (default: half the measured peak)" },
    "proof-seconds": { type: "string", default: "10", help: "length of the GetInclusionProof phase" },
    "proof-concurrency": { type: "string", default: "64", help: "GetInclusionProof calls in flight" },
    "proof-batch": { type: "string", default: "100", help: "random events per GetInclusionProofs call" },
    "batch-concurrency": { type: "string", default: "8", help: "GetInclusionProofs calls in flight" },
    connections: { type: "string", default: "2", help: "HTTP/2 connections for GetInclusionProof" },
    "crypto-workers": {
      type: "string",
      default: String(os.availableParallelism()),
      help: "server crypto worker threads",
    },
  },
);
const EVENTS = Number(args.events);
const BATCH = Number(args.batch);
const PACED_BATCH = Number(args["paced-batch"]);
const STREAMS = Number(args.streams);
const INFLIGHT = Number(args.inflight);
const PACED_SECONDS = Number(args["paced-seconds"]);
const PROOF_SECONDS = Number(args["proof-seconds"]);
const PROOF_CONCURRENCY = Number(args["proof-concurrency"]);
const PROOF_BATCH = Number(args["proof-batch"]);
const BATCH_CONCURRENCY = Number(args["batch-concurrency"]);
const CONNECTIONS = Number(args.connections);
const FIXED_RATE = args.rate === undefined ? undefined : Number(args.rate);
const fmt = (n: number, d = 1): number => Number(n.toFixed(d));
const msOf = (t: Timestamp | undefined): number => (t === undefined ? Number.NaN : timestampMs(t));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Median and p99 of `runs` timings of `f`, in ms. */
function time(runs: number, f: () => void): { medianMs: number; p99Ms: number } {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { medianMs: fmt(percentile(ms, 50), 3), p99Ms: fmt(percentile(ms, 99), 3) };
}

// (4) first, before the server exists: nothing else is running.
const leaves = Array.from({ length: 1024 }, (_, i) => nativeSha256(Uint8Array.of(i & 255, i >> 8)));
const leafInputs = Array.from({ length: 1024 }, (_, i) => ({
  tenantId: "7f3c1a52-0d4e-4b8a-9f11-2c6d5e7a8b90",
  storeId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
  sequenceNumber: BigInt(i + 1),
  eventSigningHash: leaves[i] as Uint8Array,
  agentSignature: new Uint8Array(64).fill(i & 255),
}));
time(200, () => buildMerkleTree(nativeSha256, leaves)); // warm-up
const treeBuild = time(500, () => buildMerkleTree(nativeSha256, leaves));
const leavesAndTree = time(300, () =>
  buildMerkleTree(
    nativeSha256,
    leafInputs.map((l) => leafHash(nativeSha256, l)),
  ),
);
process.stdout.write(
  `tree build, 1,024 leaves: median ${treeBuild.medianMs} ms (p99 ${treeBuild.p99Ms}); with the 1,024 leaf hashes: median ${leavesAndTree.medianMs} ms\n`,
);

const bench = await startBench("ves_bench_proofs", {
  CRYPTO_WORKERS: args["crypto-workers"],
  MAX_IN_FLIGHT_BATCHES: String(INFLIGHT),
});
const { server, pid, address, keys, sequencerKey } = bench;
try {
  const proofs = createClient(ProofService, bench.transport);

  const peakStreams = Array.from({ length: STREAMS }, makeStream);
  const pacedStreams = Array.from({ length: STREAMS }, makeStream);
  await registerStreams(keys, [...peakStreams, ...pacedStreams]);
  const clients = Array.from({ length: STREAMS }, () => createRawAppendClient(address, BENCH_ADMIN_KEY));
  const warm = prepare(pacedStreams, STREAMS * 100, 100, "warm-up");
  await Promise.all(clients.map((c, i) => c.append(warm.requests[i] as Uint8Array[])));

  const peak = FIXED_RATE === undefined ? prepare(peakStreams, EVENTS, BATCH, "peak events") : undefined;
  const pacedPool = prepare(
    pacedStreams,
    Math.round((FIXED_RATE ?? 15_000) * PACED_SECONDS),
    PACED_BATCH,
    "paced events",
    { receiptUpgrades: true },
  );
  (globalThis as { gc?: () => void }).gc?.();

  const sealedAll = async (streams: readonly BenchStream[]) => {
    let backlog = 0n;
    for (const s of streams) {
      const st = await proofs.getSyncState({ tenantId: s.tenantId, storeId: s.storeId });
      backlog += st.headSequence - st.sealedSequence;
    }
    return backlog;
  };

  // (1) Peak ingest with the worker sealing alongside.
  let peakRate: number | undefined;
  let backlogAtPeakEnd: number | undefined;
  let sealCatchUpMs: number | undefined;
  let peakCpuUs: { server: number; postgres: number } | undefined;
  if (peak !== undefined) {
    const bar = progress("peak ingest", peak.signed.length);
    const cpu0 = sampleCpu(pid);
    const t0 = performance.now();
    await Promise.all(
      clients.map((c, si) =>
        c.append(peak.requests[si] as Uint8Array[], { onResponse: () => bar.tick(BATCH) }),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuBetween(cpu0, sampleCpu(pid));
    bar.done();
    peakRate = peak.signed.length / seconds;
    peakCpuUs = {
      server: fmt((cpu.server / peak.signed.length) * 1e6, 0),
      postgres: fmt((cpu.postgres / peak.signed.length) * 1e6, 0),
    };
    const tEnd = performance.now();
    backlogAtPeakEnd = Number(await sealedAll(peakStreams));
    while ((await sealedAll(peakStreams)) > 0n) await sleep(10);
    sealCatchUpMs = performance.now() - tEnd;
    process.stdout.write(
      `peak: ${peak.signed.length} events in ${seconds.toFixed(2)} s = ${peakRate.toFixed(0)} events/s with the worker sealing; ` +
        `${backlogAtPeakEnd} events unsealed at the end, all sealed ${sealCatchUpMs.toFixed(0)} ms later\n`,
    );
  }

  // (2) Paced ingest with receipt upgrades.
  const pacedRate = FIXED_RATE ?? (peakRate as number) / 2;
  const perStreamBatches = Math.max(1, Math.round((pacedRate * PACED_SECONDS) / PACED_BATCH / STREAMS));
  const pacedRequests = pacedPool.requests.map((r) => r.slice(0, perStreamBatches));
  const pacedEvents = perStreamBatches * PACED_BATCH * STREAMS;
  const intervalMs = (PACED_BATCH / pacedRate) * 1000 * STREAMS;
  const batchArrivals: number[][] = pacedStreams.map(() => []);
  const upgrades: { at: number; wallAt: number; bytes: Buffer }[] = [];
  const pacedBar = progress(
    `paced ingest at ${pacedRate.toFixed(0)} events/s with receipt upgrades`,
    pacedEvents,
  );
  const cpuPaced0 = sampleCpu(pid);
  const start = performance.now() + 50;
  const pacedResponses = await Promise.all(
    clients.map((c, si) =>
      c.append(pacedRequests[si] as Uint8Array[], {
        due: (i) => start + (si * intervalMs) / STREAMS + i * intervalMs,
        onResponse: () => {
          (batchArrivals[si] as number[]).push(performance.now());
          pacedBar.tick(PACED_BATCH);
        },
        onUpgrade: (bytes) => upgrades.push({ at: performance.now(), wallAt: Date.now(), bytes }),
      }),
    ),
  );
  const pacedCpu = cpuBetween(cpuPaced0, sampleCpu(pid));
  const pacedWall = (performance.now() - start) / 1000;
  pacedBar.done();
  for (const c of clients) c.close();

  // After timing: receipts by event, upgrade latency per event, and a check of what was pushed.
  const receiptsAt = new Map<string, { at: number; receipt: unknown }>();
  for (const [si, responses] of pacedResponses.entries()) {
    for (const [i, raw] of responses.entries()) {
      const res = fromBinary(AppendResponseSchema, raw);
      if (res.kind.case !== "batchResult" || res.kind.value.error !== undefined) {
        throw new Error(`paced batch failed: ${JSON.stringify(res.kind.value)}`);
      }
      for (const r of res.kind.value.results) {
        if (r.outcome.case !== "receipt")
          throw new Error(`event rejected: ${JSON.stringify(r.outcome.value)}`);
        receiptsAt.set(r.eventId, { at: batchArrivals[si]?.[i] as number, receipt: r.outcome.value });
      }
    }
  }
  const latencies: number[] = [];
  // Where the time goes (server and bench share the machine's clock): sequenced → sealed, and sealed → upgrade
  // received by the client.
  const toSeal: number[] = [];
  const toClient: number[] = [];
  const verifyBar = progress("checking receipt upgrades", pacedEvents);
  let verified = 0;
  for (const u of upgrades) {
    const res = fromBinary(AppendResponseSchema, u.bytes);
    if (res.kind.case !== "receiptUpgrade" || res.kind.value.commitment === undefined)
      throw new Error("bad upgrade");
    const checkpoint = res.kind.value.commitment;
    const sig = verifyCheckpointSignature(checkpoint, sequencerKey, benchCrypto);
    if (!sig.valid) throw new Error(`checkpoint does not verify: ${sig.reason}`);
    const committedAt = msOf(checkpoint.committedAt);
    toClient.push(u.wallAt - committedAt);
    for (const [k, proof] of res.kind.value.proofs.entries()) {
      const r = receiptsAt.get(proof.eventId);
      if (r === undefined) throw new Error(`upgrade for an unknown event ${proof.eventId}`);
      latencies.push(u.at - r.at);
      toSeal.push(committedAt - msOf((r.receipt as { sequencedAt?: Timestamp }).sequencedAt));
      receiptsAt.delete(proof.eventId);
      // Every proof's path is checked; the full receipt + proof + checkpoint check on every 16th.
      const v =
        k % 16 === 0
          ? verifyReceipt(r.receipt as Parameters<typeof verifyReceipt>[0], sequencerKey, {
              ...benchCrypto,
              upgrade: { proof, checkpoint },
            })
          : verifyInclusionProof(proof, { expectedRoot: checkpoint.merkleRoot, sha256: nativeSha256 });
      if (!v.valid) throw new Error(`upgrade of ${proof.eventId} does not verify: ${v.reason}`);
      verified++;
      verifyBar.tick();
    }
  }
  verifyBar.done();
  if (receiptsAt.size !== 0) throw new Error(`${receiptsAt.size} paced events got no receipt upgrade`);
  latencies.sort((a, b) => a - b);
  toSeal.sort((a, b) => a - b);
  toClient.sort((a, b) => a - b);
  process.stdout.write(
    `paced: ${pacedEvents} events at ${pacedRate.toFixed(0)} events/s; ${upgrades.length} upgrades carried ${verified} proofs, all verified; ` +
      `receipt → proof p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${(latencies.at(-1) ?? 0).toFixed(0)} ms; ` +
      `server CPU ${((pacedCpu.server / pacedWall) * 100).toFixed(0)} %, postgres ${((pacedCpu.postgres / pacedWall) * 100).toFixed(0)} %\n` +
      `  of which sequenced → sealed: p50 ${percentile(toSeal, 50).toFixed(0)} ms, p99 ${percentile(toSeal, 99).toFixed(0)} ms; ` +
      `sealed → upgrade received: p50 ${percentile(toClient, 50).toFixed(0)} ms, p99 ${percentile(toClient, 99).toFixed(0)} ms (per upgrade)\n`,
  );

  // (3) Proof throughput over sealed events: random (stream, sequence number), pre-encoded requests, a
  // grpc-js client that neither encodes nor decodes in the timed window. First GetInclusionProof (one proof per
  // call), then GetInclusionProofs (PROOF_BATCH random events of one stream per call).
  const sealedStreams = peak === undefined ? pacedStreams : [...peakStreams, ...pacedStreams];
  const heads: bigint[] = [];
  for (const s of sealedStreams) {
    const st = await proofs.getSyncState({ tenantId: s.tenantId, storeId: s.storeId });
    heads.push(st.sealedSequence);
  }
  const randomEvent = (i = Math.floor(Math.random() * sealedStreams.length)) => ({
    stream: sealedStreams[i] as BenchStream,
    sequenceNumber: 1n + BigInt(Math.floor(Math.random() * Number(heads[i] as bigint))),
    i,
  });
  const single = Array.from({ length: 20_000 }, () => {
    const { stream: s, sequenceNumber } = randomEvent();
    return Buffer.from(
      toBinary(GetInclusionProofRequestSchema, {
        $typeName: "ves.sequencer.v1.GetInclusionProofRequest",
        tenantId: s.tenantId,
        storeId: s.storeId,
        selector: { case: "sequenceNumber", value: sequenceNumber },
        expectedRoot: new Uint8Array(0),
      }),
    );
  });
  const batched = Array.from({ length: 2_000 }, () => {
    const first = randomEvent();
    const sequenceNumbers = Array.from({ length: PROOF_BATCH }, () => randomEvent(first.i).sequenceNumber);
    return Buffer.from(
      toBinary(GetInclusionProofsRequestSchema, {
        $typeName: "ves.sequencer.v1.GetInclusionProofsRequest",
        tenantId: first.stream.tenantId,
        storeId: first.stream.storeId,
        sequenceNumbers,
      }),
    );
  });
  const passthrough = (b: Buffer): Buffer => b;
  const method = (name: string) => ({
    path: `/ves.sequencer.v1.ProofService/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  });
  const UnaryClient = grpc.makeGenericClientConstructor(
    { GetInclusionProof: method("GetInclusionProof"), GetInclusionProofs: method("GetInclusionProofs") },
    "ProofService",
  );
  type Callback = (err: grpc.ServiceError | null, res?: Buffer) => void;
  type Unary = Record<
    "GetInclusionProof" | "GetInclusionProofs",
    (req: Buffer, md: grpc.Metadata, cb: Callback) => void
  >;
  const credential = new grpc.Metadata();
  credential.set("authorization", `ApiKey ${BENCH_ADMIN_KEY}`);
  const unary = Array.from(
    { length: CONNECTIONS },
    // A distinct channel option per client keeps grpc-js from sharing one connection between them.
    (_, i) =>
      new UnaryClient(address, grpc.credentials.createInsecure(), {
        "bench.connection": i,
      }) as unknown as Unary & grpc.Client,
  );

  /** Calls `name` with `requests` in turn, `concurrency` in flight, for PROOF_SECONDS; samples responses. */
  async function throughput(name: keyof Unary, requests: Buffer[], concurrency: number) {
    const call = (c: Unary, req: Buffer) =>
      new Promise<Buffer>((resolve, reject) =>
        c[name](req, credential, (err, res) => (err !== null ? reject(err) : resolve(res as Buffer))),
      );
    // Warm-up, then the timed window.
    await Promise.all(requests.slice(0, 200).map((r, i) => call(unary[i % CONNECTIONS] as Unary, r)));
    let calls = 0;
    let next = 0;
    const sample: Buffer[] = [];
    const cpu0 = sampleCpu(pid);
    const t0 = performance.now();
    const until = t0 + PROOF_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        const c = unary[w % CONNECTIONS] as Unary;
        while (performance.now() < until) {
          const res = await call(c, requests[next++ % requests.length] as Buffer);
          calls++;
          if (calls % 37 === 0 && sample.length < 200) sample.push(res);
        }
      }),
    );
    return { calls, seconds: (performance.now() - t0) / 1000, cpu: cpuBetween(cpu0, sampleCpu(pid)), sample };
  }

  const one = await throughput("GetInclusionProof", single, PROOF_CONCURRENCY);
  for (const raw of one.sample) {
    const r = fromBinary(GetInclusionProofResponseSchema, raw);
    if (r.proof === undefined || r.commitment === undefined || r.receipt === undefined)
      throw new Error("incomplete");
    const v = verifyReceipt(r.receipt, sequencerKey, {
      ...benchCrypto,
      upgrade: { proof: r.proof, checkpoint: r.commitment },
    });
    if (!v.valid) throw new Error(`proof does not verify: ${v.reason}`);
  }
  const proofsPerSec = one.calls / one.seconds;
  const perProof = (cpu: number, n: number) => ((cpu / n) * 1e6).toFixed(0);
  process.stdout.write(
    `GetInclusionProof: ${one.calls} proofs in ${one.seconds.toFixed(2)} s = ${proofsPerSec.toFixed(0)} proofs/s ` +
      `(${PROOF_CONCURRENCY} in flight on ${CONNECTIONS} connections, random sealed events of ${sealedStreams.length} streams); ` +
      `${one.sample.length} sampled responses verified; CPU per proof: server ${perProof(one.cpu.server, one.calls)} µs, ` +
      `postgres ${perProof(one.cpu.postgres, one.calls)} µs, bench client ${perProof(one.cpu.client, one.calls)} µs\n`,
  );

  const many = await throughput("GetInclusionProofs", batched, BATCH_CONCURRENCY);
  let sampledProofs = 0;
  for (const raw of many.sample) {
    const r = fromBinary(GetInclusionProofsResponseSchema, raw);
    const roots = new Map(r.commitments.map((c) => [c.commitmentId, c]));
    for (const c of r.commitments) {
      const v = verifyCheckpointSignature(c, sequencerKey, benchCrypto);
      if (!v.valid) throw new Error(`checkpoint does not verify: ${v.reason}`);
    }
    for (const p of r.proofs) {
      const c = roots.get(p.commitmentId);
      const v = verifyInclusionProof(p, {
        expectedRoot: c?.merkleRoot ?? new Uint8Array(32),
        sha256: nativeSha256,
      });
      if (!v.valid) throw new Error(`proof does not verify: ${v.reason}`);
      sampledProofs++;
    }
    if (r.unsealedSequenceNumbers.length > 0) throw new Error("a sealed event was reported unsealed");
  }
  // Random draws may repeat a sequence number within one call, which is answered once: count what came back.
  const proofsPerCall = sampledProofs / Math.max(1, many.sample.length);
  const bulkProofsPerSec = (many.calls * proofsPerCall) / many.seconds;
  const bulkProofs = many.calls * proofsPerCall;
  process.stdout.write(
    `GetInclusionProofs: ${many.calls} calls of ${PROOF_BATCH} random events (${proofsPerCall.toFixed(1)} distinct) in ${many.seconds.toFixed(2)} s = ` +
      `${bulkProofsPerSec.toFixed(0)} proofs/s (${BATCH_CONCURRENCY} in flight); ${sampledProofs} sampled proofs verified; ` +
      `CPU per proof: server ${perProof(many.cpu.server, bulkProofs)} µs, postgres ${perProof(many.cpu.postgres, bulkProofs)} µs\n`,
  );
  for (const c of unary) c.close();

  // The server's own view of sealing, from /metrics.
  const metrics = await (
    await fetch(`${server.url}/metrics`, { headers: { "x-api-key": BENCH_ADMIN_KEY } })
  ).text();
  const metric = (name: string): number =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);
  const sealed = metric("ves_commitments_sealed_total");
  const sealMsAvg = (metric("ves_seal_seconds_sum") / metric("ves_seal_seconds_count")) * 1000;
  const sealLagMsAvg = (metric("ves_seal_lag_seconds_sum") / metric("ves_seal_lag_seconds_count")) * 1000;
  process.stdout.write(
    `server: ${sealed} commitments sealed, ${metric("ves_commitment_events_total")} events; mean seal ${sealMsAvg.toFixed(1)} ms, ` +
      `mean lag of a commitment's oldest event ${sealLagMsAvg.toFixed(0)} ms; ${metric("ves_seal_errors_total")} seal errors\n`,
  );

  const result = {
    bench: "proofs",
    receiptToProofP50Ms: fmt(percentile(latencies, 50)),
    receiptToProofP99Ms: fmt(percentile(latencies, 99)),
    receiptToProofMaxMs: fmt(latencies.at(-1) ?? Number.NaN),
    sequencedToSealedP99Ms: fmt(percentile(toSeal, 99)),
    sealedToUpgradeReceivedP99Ms: fmt(percentile(toClient, 99)),
    pacedEventsPerSec: Math.round(pacedRate),
    pacedEvents,
    pacedBatchSize: PACED_BATCH,
    peakEventsPerSec: peakRate === undefined ? null : Math.round(peakRate),
    peakCpuUsPerEvent: peakCpuUs ?? null,
    backlogAtPeakEnd: backlogAtPeakEnd ?? null,
    sealCatchUpMs: sealCatchUpMs === undefined ? null : Math.round(sealCatchUpMs),
    proofsPerSec: Math.round(proofsPerSec),
    bulkProofsPerSec: Math.round(bulkProofsPerSec),
    bulkBatch: PROOF_BATCH,
    bulkConcurrency: BATCH_CONCURRENCY,
    proofConcurrency: PROOF_CONCURRENCY,
    proofConnections: CONNECTIONS,
    treeBuild1024Ms: treeBuild.medianMs,
    treeBuild1024P99Ms: treeBuild.p99Ms,
    leavesAndTree1024Ms: leavesAndTree.medianMs,
    commitmentsSealed: sealed,
    sealMsMean: fmt(sealMsAvg),
    sealLagMsMean: fmt(sealLagMsAvg, 0),
    settings: {
      commitMaxEvents: 1024,
      commitMaxAgeMs: 500,
      commitPollMs: 100,
      streams: STREAMS,
      peakBatchSize: BATCH,
      inFlightPerStream: INFLIGHT,
      cryptoWorkers: Number(args["crypto-workers"]),
    },
    machine: benchMachine(),
    database: "PostgreSQL on 127.0.0.1, synchronous_commit on",
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await bench.stop();
}
