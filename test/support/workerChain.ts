// For tests that drive the anchoring worker by hand: a database, an anvil chain with the VesAnchor contract, a
// sequencer that seals quickly and does not anchor, the anchor store, and a worker over the real viem adapter
// whose rounds run when the test calls runOnce. One worker at a time; stopWorker() in afterEach.
import { createClient } from "@connectrpc/connect";
import type postgres from "postgres";
import { privateKeyToAccount } from "viem/accounts";
import { expect } from "vitest";
import { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { AnchorChain } from "../../src/app/anchorPorts.js";
import {
  type AnchorWorker,
  type AnchorWorkerEvent,
  type AnchorWorkerOptions,
  startAnchorWorker,
} from "../../src/app/anchorWorker.js";
import { signedEventToProto } from "../../src/client/toProto.js";
import type { Commitment } from "../../src/domain/commitment.js";
import type { StreamKey } from "../../src/domain/event.js";
import { ANVIL_DEV_KEY } from "../../src/infra/eth/anvil.js";
import { anchorWalletClient } from "../../src/infra/eth/chain.js";
import { createViemAnchorChain } from "../../src/infra/eth/viemAnchorChain.js";
import { createSql } from "../../src/infra/pg/createSql.js";
import { createPgAnchorStore, type PgAnchorStore } from "../../src/infra/pg/pgAnchorStore.js";
import { createPgLeaderLock } from "../../src/infra/pg/pgLeaderLock.js";
import type { Sequencer } from "../../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./agent.js";
import { type AnchorChainFixture, startAnchorChain } from "./anvil.js";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { startTestSequencer, testTransport } from "./sequencer.js";

export interface WorkerChain {
  readonly db: TestDatabase;
  readonly sql: postgres.Sql;
  readonly fx: AnchorChainFixture;
  /** Seals every 2 events or 20 ms; anchoring is not configured on it. */
  readonly sealer: Sequencer;
  readonly store: PgAnchorStore;
  /** Appends n events to a new stream through `server` (default the sealer) and waits until all are sealed. */
  sealedStream(
    n: number,
    server?: Sequencer,
  ): Promise<{ agent: TestAgent; stream: StreamKey; commitments: Commitment[] }>;
  /** Starts the worker (stopping none: call stopWorker first if one runs). */
  startWorker(
    events: AnchorWorkerEvent[],
    opts?: {
      /** The submitter's key (default anvil's first dev key). */
      key?: `0x${string}`;
      wrap?: (c: AnchorChain) => AnchorChain;
      options?: Partial<AnchorWorkerOptions>;
    },
  ): AnchorWorker;
  /** Stops the running worker, if any. */
  stopWorker(): Promise<void>;
  /** Forgets the running worker without stopping it (the test stopped it itself). */
  forgetWorker(): void;
  stop(): Promise<void>;
}

export async function startWorkerChain(): Promise<WorkerChain> {
  const [db, fx] = await Promise.all([createTestDatabase(), startAnchorChain()]);
  const sealer = await startTestSequencer(db.url, {
    COMMIT_MAX_EVENTS: "2",
    COMMIT_MAX_AGE_MS: "20",
    COMMIT_POLL_MS: "20",
  });
  const sql = createSql(db.url, { max: 4 });
  const store = createPgAnchorStore(sql, { chainId: fx.anvil.chainId, contractAddress: fx.address });
  let running: AnchorWorker | undefined;
  return {
    db,
    sql,
    fx,
    sealer,
    store,
    async sealedStream(n, server = sealer) {
      const agent = createAgent();
      const transport = testTransport(server.url);
      await registerAgent(createClient(KeyRegistryService, transport), agent);
      await createClient(SequencerService, transport).appendBatch({
        batchId: crypto.randomUUID(),
        events: Array.from({ length: n }, () => signedEventToProto(agent.event())),
      });
      const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
      await expect
        .poll(async () => (await store.unanchored(stream, 0n, 100)).at(-1)?.sequenceEnd, { timeout: 10_000 })
        .toBe(BigInt(n));
      return { agent, stream, commitments: await store.unanchored(stream, 0n, 100) };
    },
    startWorker(events, opts = {}) {
      const wallet = anchorWalletClient(
        fx.chain,
        fx.anvil.url,
        privateKeyToAccount(opts.key ?? ANVIL_DEV_KEY),
      );
      const chain = createViemAnchorChain({
        client: fx.client,
        wallet,
        address: fx.address,
        rpcUrl: fx.anvil.url,
      });
      running = startAnchorWorker(
        {
          chain: opts.wrap?.(chain) ?? chain,
          store,
          lock: createPgLeaderLock(db.url),
          clock: { now: () => new Date() },
          random: () => 0.5,
        },
        {
          confirmations: 1,
          cadenceMs: 600_000, // rounds run when the test calls runOnce
          batchMax: 32,
          maxGas: 10_000_000n,
          leaderPollMs: 600_000,
          vanishAfterMs: 30_000,
          retry: { baseMs: 100, maxMs: 1000, slowMs: 200 },
          onEvent: (e) => events.push(e),
          ...opts.options,
        },
      );
      return running;
    },
    async stopWorker() {
      await running?.stop();
      running = undefined;
    },
    forgetWorker() {
      running = undefined;
    },
    async stop() {
      await running?.stop();
      await sealer.stop();
      await sql.end({ timeout: 1 });
      await fx.stop();
      await db.drop();
    },
  };
}
