// Catch-up benchmark: one subscriber reads a 1,000,000-event stream from sequence 1 through Subscribe, while the
// server's memory is sampled. The stream holds real signed events (agent signatures and sequencer receipts),
// generated in worker threads and written with the sequencer's own PostgreSQL adapter (bench/signedEvents.ts);
// a sample is verified end to end after timing. Prints figures with the machine and settings; the last line is
// one JSON object.
//
//   npm run bench -- catchup                           (1,000,000 events in a throwaway database)
//   npm run bench -- catchup --events 200000 --keep    (keep the database and print its URL)
//   npm run bench -- catchup --db postgres://.../ves_bench_catchup_xxxx   (reuse a kept database)
import { randomUUID } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import postgres from "postgres";
import { SequencedEventSchema } from "../gen/ves/sequencer/v1/event_pb.js";
import { proofOfPossession } from "../src/client/proofOfPossession.js";
import { verifySequencedEvent } from "../src/client/verifySequencedEvent.js";
import { nativeSha256, sodiumEd25519 } from "../src/crypto/native.js";
import { populateStream, type StreamSpec } from "./signedEvents.js";
import { createRawSubscribeClient } from "./subscribeClient.js";
import {
  BENCH_ADMIN_KEY,
  benchArgs,
  benchMachine,
  createBenchDatabase,
  progress,
  rssMb,
  startBench,
} from "./support.js";

const args = benchArgs(
  "catchup",
  "One subscriber reads a stream of real signed events from sequence 1 while the server's memory is sampled.",
  {
    events: { type: "string", default: "1000000", help: "events in the stream" },
    keep: {
      type: "boolean",
      default: false,
      help: "keep the database afterwards (its URL is printed) for --db",
    },
    db: { type: "string", help: "reuse a database kept by an earlier run (tops the stream up to --events)" },
    window: {
      type: "string",
      default: String(4 * 1024 * 1024),
      help: "the subscriber's HTTP/2 flow-control window in bytes",
    },
  },
);
const EVENTS = Number(args.events);
const crypto = { sha256: nativeSha256, ed25519: sodiumEd25519 };
const fmt = (n: number, d = 1): number => Number(n.toFixed(d));

interface SavedSpec {
  tenantId: string;
  storeId: string;
  agentId: string;
  agentSeed: string;
  sequencerSeed: string;
  sequencerId: string;
}

/** The stream's identity and keys, kept in the database so a later --db run can reuse and verify it. */
async function loadOrCreateSpec(url: string): Promise<StreamSpec> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`create table if not exists bench_catchup (spec jsonb not null)`;
    const [row] = await sql<{ spec: SavedSpec }[]>`select spec from bench_catchup`;
    let saved = row?.spec;
    if (saved === undefined) {
      const hex = (): string =>
        Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString("hex");
      saved = {
        tenantId: randomUUID(),
        storeId: randomUUID(),
        agentId: randomUUID(),
        agentSeed: hex(),
        sequencerSeed: hex(),
        sequencerId: randomUUID(),
      };
      await sql`insert into bench_catchup (spec) values (${sql.json(saved as unknown as postgres.JSONValue)})`;
    }
    return {
      tenantId: saved.tenantId,
      storeId: saved.storeId,
      agentId: saved.agentId,
      agentSeed: new Uint8Array(Buffer.from(saved.agentSeed, "hex")),
      sequencerSeed: new Uint8Array(Buffer.from(saved.sequencerSeed, "hex")),
      sequencerId: saved.sequencerId,
      sequencerKeyId: "bench-catchup-key",
      entities: 5000,
    };
  } finally {
    await sql.end();
  }
}

const db =
  args.db === undefined
    ? await createBenchDatabase("ves_bench_catchup")
    : { url: args.db, drop: async () => {}, release: async () => {} };
const spec = await loadOrCreateSpec(db.url);
const bench = await startBench(
  "ves_bench_catchup",
  {
    SEQUENCER_ID: spec.sequencerId,
    SEQUENCER_SIGNING_KEY: Buffer.from(spec.sequencerSeed).toString("hex"),
    SEQUENCER_KEY_ID: spec.sequencerKeyId,
  },
  db,
);
const { pid, address, keys } = bench;
try {
  const seq = bench.sequencer;
  const stream = { tenantId: spec.tenantId, storeId: spec.storeId };
  const agentPublicKey = sodiumEd25519.getPublicKey(spec.agentSeed);
  const known = await keys.listAgentKeys({ tenantId: spec.tenantId, agentId: spec.agentId });
  if (known.keys.length === 0) {
    await keys.registerAgentKey({
      tenantId: spec.tenantId,
      agentId: spec.agentId,
      keyId: 1,
      publicKey: agentPublicKey,
      proofOfPossession: proofOfPossession(
        agentPublicKey,
        { sign: sodiumEd25519.createSigner(spec.agentSeed) },
        crypto,
      ),
    });
  }
  const head = Number((await seq.getHead(stream)).headSequence);
  if (head < EVENTS) {
    process.stderr.write(`setting up: the stream holds ${head} events; adding ${EVENTS - head}\n`);
    await populateStream(db.url, spec, head, EVENTS - head);
  }
  const info = await seq.getSequencerInfo({});
  const sequencerPublicKey = info.signingKeys.find((k) => k.keyId === spec.sequencerKeyId)?.publicKey;
  if (sequencerPublicKey === undefined) throw new Error("the server does not list the bench's sequencer key");

  const client = createRawSubscribeClient(address, BENCH_ADMIN_KEY, Number(args.window));
  // Warm-up (JIT, connections, the table's pages): a first read of 50,000 events, not timed.
  const warmUp = Math.min(50_000, EVENTS);
  await new Promise<void>((resolve, reject) => {
    let n = 0;
    const h = client.subscribe({ ...stream, fromSequence: 1n }, (events) => {
      n += events.length;
      if (n >= warmUp) {
        h.cancel();
        resolve();
      }
    });
    h.done.catch(reject);
  });
  (globalThis as { gc?: () => void }).gc?.();

  // The timed read: from 1 to the head, checking the order of every event as it arrives.
  const samples: { atEvent: number; rssMb: number }[] = [];
  const sampleEvery = Math.max(1, Math.floor(EVENTS / 20));
  let nextSample = 0;
  let peak = 0;
  const rssStart = rssMb(pid);
  const kept: Uint8Array[] = [];
  let expected = 1n;
  let received = 0;
  const bar = progress("catch-up read", EVENTS);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 50);
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const h = client.subscribe({ ...stream, fromSequence: 1n, heartbeatIntervalMs: 0 }, (events) => {
      for (const e of events) {
        if (e.sequence !== expected) {
          h.cancel();
          reject(new Error(`expected sequence ${expected}, got ${e.sequence}`));
          return;
        }
        expected++;
        if (e.sequence % 10_000n === 0n) kept.push(e.bytes.slice());
      }
      received += events.length;
      bar.tick(events.length);
      if (received >= nextSample) {
        samples.push({ atEvent: received, rssMb: fmt(rssMb(pid)) });
        nextSample += sampleEvery;
      }
      if (received >= EVENTS) {
        h.cancel();
        resolve();
      }
    });
    h.done.then(() => reject(new Error(`the stream ended after ${received} events`)), reject);
  });
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  bar.done();
  const rssEnd = rssMb(pid);
  peak = Math.max(peak, rssEnd);
  client.close();
  const eventsPerSec = received / seconds;
  process.stdout.write(
    `catch-up: ${received} events in ${seconds.toFixed(2)} s = ${eventsPerSec.toFixed(0)} events/s, in order with no gap; ` +
      `server RSS start ${rssStart.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, end ${rssEnd.toFixed(0)} MB\n`,
  );

  // After timing: every 10,000th event verifies end to end (payload hash, agent signature, receipt).
  for (const bytes of kept) {
    const verdict = verifySequencedEvent(fromBinary(SequencedEventSchema, bytes), {
      agentPublicKey,
      sequencerPublicKey,
      ...crypto,
    });
    if (!verdict.valid) throw new Error(`a delivered event does not verify: ${verdict.reason}`);
  }
  process.stdout.write(`verified ${kept.length} sampled events (every 10,000th) end to end\n`);
  if (args.keep) process.stdout.write(`kept the database: --db ${db.url}\n`);

  const result = {
    bench: "catchup",
    eventsPerSec: Math.round(eventsPerSec),
    events: received,
    seconds: fmt(seconds, 2),
    verifiedSample: kept.length,
    serverRssMb: { start: fmt(rssStart), peak: fmt(peak), end: fmt(rssEnd), samples },
    settings: {
      clientWindowBytes: Number(args.window),
      pageEvents: 1000,
      client: "grpc-js, raw bytes, sequence numbers checked",
      data: "real signed events written with the sequencer's PostgreSQL adapter (bench/signedEvents.ts)",
    },
    machine: benchMachine(),
    database: "PostgreSQL on 127.0.0.1",
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await bench.stop({ keepDatabase: args.keep || args.db !== undefined });
}
