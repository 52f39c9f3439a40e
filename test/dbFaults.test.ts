// Connection loss under load: a sequencer process on a throwaway PostgreSQL cluster has its backends killed
// (pg_terminate_backend) and the cluster restarted, repeatedly, while clients append and read. The process must
// stay up, calls must end by their deadline with UNAVAILABLE (never a false receipt), writes must resume, every
// receipt a client got must be in the log exactly once on a gap-free stream, and the LISTEN connection must
// come back (an API-key revocation notified after the faults still reaches the instance).
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ApiKeyService, Permission } from "../gen/ves/sequencer/v1/api_key_pb.js";
import type { Receipt } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { sodiumEd25519 } from "../src/crypto/native.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { makeBatch, receiptsOf, type TestBatch } from "./support/appendSession.js";
import { hasPgBinaries, type PgCluster, startPgCluster } from "./support/pgCluster.js";
import { type SequencerProcess, spawnSequencer, testIdentity, testTransport } from "./support/sequencer.js";
import { expectGapFree, expectReceiptMatches, readStream } from "./support/streamLog.js";

const identity = testIdentity();
const sequencerKey = sodiumEd25519.getPublicKey(Buffer.from(identity.SEQUENCER_SIGNING_KEY, "hex"));
// Deadlines generous for a loaded machine; a connection attempt gives up much sooner (DB_CONNECT_TIMEOUT_MS).
const CALL_TIMEOUT_MS = 6_000;
const WRITERS = 3;
const ROUNDS = 3;

let cluster: PgCluster;
let admin: postgres.Sql;
let server: SequencerProcess | undefined;

beforeAll(async () => {
  // A primary alone; no fsync (restarts are the point here, not durability).
  cluster = await startPgCluster({ extraConf: ["fsync = off", "max_connections = 50"] });
  admin = postgres(cluster.primary.url(), { max: 1, onnotice: () => {} });
  server = await spawnSequencer(cluster.primary.url(), {
    ...identity,
    DB_POOL_MAX: "6",
    CRYPTO_WORKERS: "1",
    // Only a notification (or a reconnected listener, which empties the cache) can drop a cached key this fast.
    AUTH_CACHE_TTL_MS: "60000",
    COMMIT_FEED_CHECK_MS: "300",
    COMMIT_POLL_MS: "200",
    DB_CONNECT_TIMEOUT_MS: "1500",
  });
}, 60_000);

afterAll(async () => {
  // Each step on its own: the throwaway cluster is removed even if the server already died.
  await server?.kill("SIGKILL").catch(() => {});
  await admin?.end({ timeout: 1 }).catch(() => {});
  await cluster?.destroy();
}, 60_000);

interface CallRecord {
  readonly rpc: string;
  readonly ms: number;
  readonly code: Code | "ok";
  readonly message: string;
}

it.runIf(hasPgBinaries())(
  "survives killed backends and PostgreSQL restarts under load: no crash, no hang, no false receipt",
  async () => {
    const proc = server as SequencerProcess;
    const transport = testTransport(proc.url);
    const client = createClient(SequencerService, transport);
    const agent = createAgent();
    await registerAgent(createClient(KeyRegistryService, transport), agent);
    const stream = { tenantId: agent.tenantId, storeId: agent.storeId };

    const calls: CallRecord[] = [];
    const receipts = new Map<string, { receipt: Receipt; signingHash: Uint8Array }>();
    let succeeded = 0;
    let stop = false;
    const timed = async <T>(rpc: string, f: () => Promise<T>): Promise<T | undefined> => {
      const t0 = performance.now();
      try {
        const r = await f();
        calls.push({ rpc, ms: performance.now() - t0, code: "ok", message: "" });
        return r;
      } catch (err) {
        const e = ConnectError.from(err);
        calls.push({ rpc, ms: performance.now() - t0, code: e.code, message: e.rawMessage });
        await new Promise((r) => setTimeout(r, 50));
        return undefined;
      }
    };
    const writer = async (): Promise<void> => {
      while (!stop) {
        const batch: TestBatch = makeBatch(agent, 10);
        // Resend the same batch until it is answered: a batch whose commit the client never heard of comes back
        // as replayed receipts, never as a second copy.
        while (!stop) {
          const res = await timed("AppendBatch", () =>
            client.appendBatch(
              { batchId: batch.batchId, events: batch.request.events },
              { timeoutMs: CALL_TIMEOUT_MS },
            ),
          );
          if (res?.result !== undefined) {
            receiptsOf(res.result).forEach(({ receipt }, i) => {
              receipts.set(receipt.eventId, {
                receipt,
                signingHash: (batch.events[i] as TestBatch["events"][number]).signingHash,
              });
            });
            succeeded++;
            break;
          }
        }
      }
    };
    const reader = async (): Promise<void> => {
      while (!stop) {
        await timed("GetHead", () => client.getHead(stream, { timeoutMs: CALL_TIMEOUT_MS }));
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const progress = async (batches: number): Promise<number> => {
      const t0 = performance.now();
      const target = succeeded + batches;
      while (succeeded < target) {
        if (proc.child.exitCode !== null) {
          throw new Error(`the sequencer exited (${proc.child.exitCode}):\n${proc.output().slice(-3000)}`);
        }
        if (performance.now() - t0 > 10_000) {
          const last = calls.slice(-5).map((c) => `${c.rpc} ${c.code} ${c.message}`);
          throw new Error(`no progress: ${succeeded}/${target} batches; last calls: ${last.join(" | ")}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return performance.now() - t0;
    };

    const load = [...Array.from({ length: WRITERS }, writer), reader(), reader()];
    const resumeMs: number[] = [];
    try {
      await progress(10);
      for (let round = 0; round < ROUNDS; round++) {
        await admin`
          select pg_terminate_backend(pid) from pg_stat_activity
          where application_name = 'ves-sequencer' and pid <> pg_backend_pid()`;
        resumeMs.push(await progress(5));
        await cluster.primary.restart();
        resumeMs.push(await progress(5));
      }
    } finally {
      stop = true;
      await Promise.all(load);
    }

    // The process is alive, and no call outlived its deadline or failed with anything but UNAVAILABLE.
    expect(proc.child.exitCode, proc.output().slice(-4000)).toBeNull();
    expect(proc.output()).not.toMatch(/TypeError|uncaught/i);
    const failures = calls.filter((c) => c.code !== "ok");
    expect(failures.length).toBeGreaterThan(0); // the faults did land
    expect(failures.filter((c) => c.code !== Code.Unavailable)).toEqual([]);
    expect(Math.max(...calls.map((c) => c.ms))).toBeLessThan(CALL_TIMEOUT_MS + 500);

    // Every receipt a client got is in the log exactly once, at its sequence number, on a gap-free stream.
    const log = await readStream(admin, stream.tenantId, stream.storeId);
    expectGapFree(log);
    const bySeq = new Map(log.events.map((e) => [e.sequenceNumber, e]));
    expect(new Set(log.events.map((e) => e.eventId)).size).toBe(log.events.length);
    for (const { receipt, signingHash } of receipts.values()) {
      expectReceiptMatches(receipt, signingHash, sequencerKey, bySeq.get(receipt.sequenceNumber));
    }
    expect(receipts.size).toBe(log.events.length); // every batch was resent until answered
    console.info(
      `db faults: ${ROUNDS} terminations + ${ROUNDS} restarts, ${calls.length} calls, ${failures.length} UNAVAILABLE, ` +
        `writes resumed after ${resumeMs.map((m) => Math.round(m)).join("/")} ms, ${log.events.length} events`,
    );

    // The LISTEN connection is back: a revocation committed elsewhere (here: by hand) reaches this instance at
    // once, although the key's cache entry would live another minute.
    const apiKeys = createClient(ApiKeyService, transport);
    const created = await apiKeys.createApiKey({
      tenantId: stream.tenantId,
      name: "after faults",
      permissions: [Permission.READ],
    });
    const readOnly = createClient(SequencerService, testTransport(proc.url, created.secret));
    await readOnly.getHead(stream); // now cached
    const prefix = created.apiKey?.prefix as string;
    await admin.begin(async (tx) => {
      await tx`update api_keys set revoked_at = now() where prefix = ${prefix}`;
      await tx`select pg_notify('ves_auth_changes', ${JSON.stringify({ kind: "api_key", prefix })})`;
    });
    const t0 = performance.now();
    let refused: ConnectError | undefined;
    while (refused === undefined && performance.now() - t0 < 5_000) {
      await readOnly.getHead(stream).catch((err: unknown) => {
        refused = ConnectError.from(err);
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(refused?.code).toBe(Code.Unauthenticated);
  },
  60_000,
);
