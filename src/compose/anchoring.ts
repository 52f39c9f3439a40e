// Composition of anchoring (ves-protocol.md §7, §16.11): the chain clients, the contract adapter, the anchor store,
// the leader lock and the worker, with its logs and metrics. ANCHOR_DEV_ANVIL starts a local anvil and deploys
// the contract first (development only).
import { writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import type { Sql } from "postgres";
import { Counter, Gauge, type Registry } from "prom-client";
import { getContractAddress, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { AnchorReader } from "../app/anchorPorts.js";
import { type AnchorWorker, type AnchorWorkerEvent, startAnchorWorker } from "../app/anchorWorker.js";
import type { AnchorConfig } from "../config.js";
import type { Hex32, TxFees } from "../domain/anchor.js";
import { DomainError } from "../domain/errors.js";
import { ANVIL_DEV_KEY, type Anvil, DEV_ANVIL_URL_FILE, startAnvil } from "../infra/eth/anvil.js";
import { anchorChain, anchorPublicClient, anchorWalletClient } from "../infra/eth/chain.js";
import { deployVesAnchor } from "../infra/eth/deployVesAnchor.js";
import { createViemAnchorChain, redactRpcUrl } from "../infra/eth/viemAnchorChain.js";
import { createPgAnchorStore, type PgAnchorStore } from "../infra/pg/pgAnchorStore.js";
import { createPgLeaderLock } from "../infra/pg/pgLeaderLock.js";

export interface Anchoring {
  readonly chainId: number;
  readonly contractAddress: Hex32;
  readonly rpcUrl: string;
  readonly confirmations: number;
  readonly store: PgAnchorStore;
  /** Reads the chain (VerifyAnchor, anchor status depth). */
  readonly client: PublicClient;
  readonly worker: AnchorWorker;
  /** For the anchor RPCs. */
  readonly reader: AnchorReader;
  stop(): Promise<void>;
}

export interface AnchoringDeps {
  readonly sql: Sql;
  /** The database URL, for the leader lock's own connection. */
  readonly databaseUrl: string;
  readonly log: Logger;
  readonly registry: Registry;
  readonly dataDir: string;
  readonly random?: () => number;
}

function anchorMetrics(registry: Registry) {
  const c = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    leader: new Gauge({
      name: "ves_anchor_leader",
      help: "1 while this instance is the anchoring leader",
      registers: [registry],
    }),
    transactions: c("ves_anchor_transactions_total", "Anchoring transactions by outcome", ["outcome"]),
    commitments: c("ves_anchor_commitments_submitted_total", "Commitments sent in anchoring transactions"),
    failures: c("ves_anchor_failures_total", "Anchoring failures by kind and reason", ["kind", "reason"]),
    replacements: c(
      "ves_anchor_tx_replacements_total",
      "Anchoring transactions replaced with higher fees (same nonce)",
    ),
    stuckAtMaxFee: new Gauge({
      name: "ves_anchor_tx_stuck_at_max_fee",
      help: "Pending anchoring transactions that cannot be replaced without passing ANCHOR_MAX_FEE_GWEI",
      registers: [registry],
    }),
    errors: c(
      "ves_anchor_round_errors_total",
      "Anchoring rounds that failed (database or chain unreachable)",
    ),
  };
}

const feeFields = (f: TxFees) => ({
  maxFeePerGas: String(f.maxFeePerGas),
  maxPriorityFeePerGas: String(f.maxPriorityFeePerGas),
});

export async function startAnchoring(cfg: AnchorConfig, deps: AnchoringDeps): Promise<Anchoring> {
  const { log } = deps;
  let anvil: Anvil | undefined;
  let rpcUrl = cfg.rpcUrl;
  let chainId = cfg.chainId;
  let contractAddress = cfg.contractAddress;
  let key = cfg.submitterKey;
  if (cfg.devAnvil) {
    const statePath = path.resolve(deps.dataDir, "anvil-state.json");
    anvil = await startAnvil({ chainId: 31337, statePath });
    rpcUrl = anvil.url;
    chainId = anvil.chainId;
    key = () => ANVIL_DEV_KEY;
    const chain = anchorChain(chainId, rpcUrl);
    const client = anchorPublicClient(chain, rpcUrl);
    const wallet = anchorWalletClient(chain, rpcUrl, privateKeyToAccount(ANVIL_DEV_KEY));
    // The chain persists in the data directory; deploy only when the contract is not there yet.
    const nonce = await client.getTransactionCount({ address: wallet.account.address });
    if (nonce === 0) {
      contractAddress = (
        await deployVesAnchor(wallet, client, [wallet.account.address])
      ).address.toLowerCase() as Hex32;
    } else {
      contractAddress = getContractAddress({
        from: wallet.account.address,
        nonce: 0n,
      }).toLowerCase() as Hex32;
    }
    // Where the demo (src/cli/demo.ts) finds the chain to check anchors against (the port is a free one).
    writeFileSync(path.resolve(deps.dataDir, DEV_ANVIL_URL_FILE), `${rpcUrl}\n`);
    log.warn(
      { rpcUrl, chainId, contractAddress, statePath },
      "ANCHOR_DEV_ANVIL: anchoring to a local anvil with its public dev key (development only)",
    );
  }
  if (rpcUrl === undefined || chainId === undefined || contractAddress === undefined || key === undefined) {
    throw new Error(
      "anchoring needs ANCHOR_RPC_URL, ANCHOR_CHAIN_ID, ANCHOR_CONTRACT_ADDRESS and ANCHOR_SUBMITTER_KEY",
    );
  }
  const chain = anchorChain(chainId, rpcUrl);
  const client = anchorPublicClient(chain, rpcUrl);
  const account = privateKeyToAccount(key());
  const wallet = anchorWalletClient(chain, rpcUrl, account);
  const actualChainId = await client.getChainId().catch((err: unknown) => {
    throw new Error(`anchoring: the chain at ${redactRpcUrl(rpcUrl)} did not answer eth_chainId`, {
      cause: err,
    });
  });
  if (actualChainId !== chainId) {
    throw new Error(
      `ANCHOR_CHAIN_ID is ${chainId} but the chain at ${redactRpcUrl(rpcUrl)} has id ${actualChainId}`,
    );
  }
  const store = createPgAnchorStore(deps.sql, { chainId, contractAddress });
  const metrics = anchorMetrics(deps.registry);
  const target = { chainId, contractAddress, submitter: account.address };
  const onEvent = (e: AnchorWorkerEvent): void => {
    switch (e.kind) {
      case "leader":
        metrics.leader.set(e.leader ? 1 : 0);
        log.info(
          target,
          e.leader
            ? "anchoring: this instance is now the leader"
            : "anchoring: stand-by (another instance leads)",
        );
        break;
      case "submitted":
        metrics.transactions.inc({ outcome: "submitted" });
        metrics.commitments.inc(e.commitments);
        log.info(
          { txHash: e.txHash, commitments: e.commitments, gas: String(e.gas), ...feeFields(e.fees) },
          "anchoring: transaction sent",
        );
        break;
      case "replaced":
        metrics.replacements.inc();
        log.warn(
          {
            previousHash: e.previousHash,
            txHash: e.txHash,
            nonce: String(e.nonce),
            previous: feeFields(e.previousFees),
            ...feeFields(e.fees),
          },
          "anchoring: transaction not mined in time; replaced with higher fees",
        );
        break;
      case "earlier_version_mined":
        log.info(
          { latestHash: e.latestHash, txHash: e.txHash },
          "anchoring: an earlier version of a replaced transaction was mined; following it",
        );
        break;
      case "fee_capped":
        log.error(
          {
            txHash: e.txHash,
            nonce: String(e.nonce),
            ...feeFields(e.fees),
            neededMaxFeePerGas: String(e.needed),
            capMaxFeePerGas: String(e.maxFeePerGas),
          },
          "anchoring: transaction stuck at the max fee (ANCHOR_MAX_FEE_GWEI); not replaced again, anchoring waits behind it",
        );
        break;
      case "stuck_at_max_fee":
        metrics.stuckAtMaxFee.set(e.transactions);
        break;
      case "replace_failed":
        metrics.failures.inc({ kind: e.failure.kind, reason: e.failure.reason });
        log.warn(
          { txHash: e.txHash, kind: e.failure.kind, reason: e.failure.reason },
          `anchoring: replacing a transaction failed (tried again next round): ${e.failure.message}`,
        );
        break;
      case "included":
      case "final":
        metrics.transactions.inc({ outcome: e.kind });
        log.info(
          { txHash: e.txHash, blockNumber: String(e.blockNumber), depth: String(e.depth) },
          `anchoring: transaction ${e.kind}`,
        );
        break;
      case "reorged":
      case "vanished":
      case "reverted":
        metrics.transactions.inc({ outcome: e.kind });
        log.warn(
          { txHash: e.txHash, commitments: e.forgotten },
          `anchoring: transaction ${e.kind}; anchoring again`,
        );
        break;
      case "found_on_chain":
        log.info(
          { ...e.stream, sequenceEnd: String(e.sequenceEnd), txHash: e.txHash },
          "anchoring: commitment already on chain; recorded, not sent again",
        );
        break;
      case "failure":
        metrics.failures.inc({ kind: e.failure.kind, reason: e.failure.reason });
        // The message is redacted (no RPC URL); the cause (viem's request dump) is not logged.
        log.error(
          { kind: e.failure.kind, reason: e.failure.reason, streams: e.streams, retryInMs: e.retryInMs },
          `anchoring failed: ${e.failure.message}`,
        );
        break;
      case "error":
        metrics.errors.inc();
        log.error({ err: e.err }, "anchoring: round failed; will retry");
        break;
    }
  };
  const anchorChainAdapter = createViemAnchorChain({ client, wallet, address: contractAddress, rpcUrl });
  const reader: AnchorReader = {
    chainId,
    contractAddress,
    confirmations: cfg.confirmations,
    record: (id) => store.record(id),
    streamFailure: (stream) => store.streamFailure(stream),
    head: () => client.getBlockNumber({ cacheTime: 1000 }).catch(() => undefined),
    async commitmentAt(stream, end) {
      try {
        return await anchorChainAdapter.commitmentAt(stream, end);
      } catch (err) {
        throw new DomainError("unavailable", `the anchor chain did not answer: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
  };
  const worker = startAnchorWorker(
    {
      chain: anchorChainAdapter,
      store,
      lock: createPgLeaderLock(deps.databaseUrl),
      clock: { now: () => new Date() },
      random: deps.random ?? Math.random,
    },
    {
      confirmations: cfg.confirmations,
      cadenceMs: cfg.intervalMs,
      // Pending transactions are followed every second, so finality is seen about when it happens.
      trackMs: 1000,
      batchMax: cfg.batchMax,
      maxGas: cfg.maxGas,
      leaderPollMs: cfg.leaderPollMs,
      vanishAfterMs: Math.max(30_000, 3 * cfg.intervalMs),
      replaceAfterMs: cfg.replaceAfterMs,
      maxFeePerGas: cfg.maxFeePerGas,
      retry: { baseMs: 1000, maxMs: 300_000, slowMs: cfg.slowRetryMs },
      onEvent,
      ...(cfg.fault === "exit_after_send"
        ? {
            afterSend(txHash: Hex32) {
              // Written synchronously: the process dies on the next line, before the logger would flush.
              writeSync(
                2,
                `${JSON.stringify({ level: 40, time: Date.now(), txHash, msg: "ANCHOR_FAULT=exit_after_send: killing the process after broadcasting" })}\n`,
              );
              process.kill(process.pid, "SIGKILL");
            },
          }
        : {}),
    },
  );
  log.info(
    { ...target, rpcUrl: redactRpcUrl(rpcUrl), confirmations: cfg.confirmations, intervalMs: cfg.intervalMs },
    "anchoring on",
  );
  return {
    chainId,
    contractAddress,
    rpcUrl,
    confirmations: cfg.confirmations,
    store,
    client,
    worker,
    reader,
    async stop() {
      await worker.stop();
      await anvil?.stop();
    },
  };
}
