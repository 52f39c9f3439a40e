// Composition root: config -> database -> identity -> crypto workers -> auth -> read side -> commitments ->
// transports; signals, drain, shutdown. Each step lives in compose/ and registers how it stops.
import { existsSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Tracer } from "@opentelemetry/api";
import pino, { type Logger } from "pino";
import { createMetrics } from "./api/metrics.js";
import { notifyCommits } from "./app/notifyCommits.js";
import type { AppendDeps } from "./app/ports.js";
import { startAuth } from "./compose/auth.js";
import { startCommitments } from "./compose/commitments.js";
import { openDatabase } from "./compose/database.js";
import { startReadSide } from "./compose/readSide.js";
import { startReadReplicas } from "./compose/replicas.js";
import { createStopStack } from "./compose/stopStack.js";
import { startTracing } from "./compose/tracing.js";
import { createTransports } from "./compose/transports.js";
import { CONFIG_VARIABLES, type Config, ConfigError, readConfig } from "./config.js";
import { nativeSha256, serverEd25519 } from "./crypto/native.js";
import { chooseLogFormat, createLogger } from "./infra/createLogger.js";
import { createCryptoPool } from "./infra/crypto/cryptoPool.js";
import { createPgAgentKeyLookup } from "./infra/pg/pgAgentKeyStore.js";
import { createPgEventLog } from "./infra/pg/pgEventLog.js";
import { createSequencerKeyList, recordSequencerKey } from "./infra/pg/pgSequencerKeys.js";
import { loadSequencerIdentity } from "./infra/sequencerIdentity.js";
import { createSequencingTracer } from "./infra/sequencingTracer.js";
import { StartupError } from "./infra/startupError.js";

export { SERVICES } from "./compose/transports.js";

/** The repository (or installed package) root: the nearest directory above this module with a package.json,
 * whether this runs from src/ (tsx) or from dist/src/ (compiled). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
const ROOT = packageRoot(path.dirname(fileURLToPath(import.meta.url)));
export const MIGRATIONS_DIR = path.join(ROOT, "migrations");
export const SERVER_VERSION: string = (
  JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }
).version;

export interface Sequencer {
  readonly address: AddressInfo;
  readonly url: string;
  readonly sequencerId: string;
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  /**
   * Drain and stop: stop accepting, finish in-flight batches, end subscriptions (Unavailable, after what was
   * queued), close workers, the LISTEN connection and the pool.
   */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Trace with this tracer (tests); unset: OTLP export when config.otelTracing, else no tracing. */
  readonly tracer?: Tracer;
}

export async function startSequencer(
  config: Config,
  log: Logger = pino({ level: config.logLevel }),
  options: StartOptions = {},
): Promise<Sequencer> {
  const stack = createStopStack(log);
  try {
    const tracer = await startTracing(config, options.tracer, SERVER_VERSION, log, stack);
    const { sql, url: databaseUrl } = await openDatabase(config, MIGRATIONS_DIR, log, stack);

    const ed25519 = serverEd25519();
    const identity = await loadSequencerIdentity(
      {
        sequencerId: config.sequencerId,
        seed: config.signingSeed,
        keyId: config.signingKeyId,
        dataDir: config.dataDir,
      },
      ed25519,
      nativeSha256,
    );
    await recordSequencerKey(sql, identity.keyId, identity.publicKey, identity.sequencerId);
    log.info(
      {
        sequencerId: identity.sequencerId,
        keyId: identity.keyId,
        publicKey: Buffer.from(identity.publicKey).toString("hex"),
        source: identity.source,
        ed25519: ed25519.name,
      },
      identity.created ? "generated a development sequencer identity" : "sequencer identity loaded",
    );

    const pool = createCryptoPool({
      size: config.cryptoWorkers,
      signingSeed: identity.seed,
      onWorkerError: (err) => log.error({ err }, "crypto worker died; replaced"),
    });
    stack.defer(() => pool.close());

    const metrics = createMetrics();
    const readSide = await startReadSide(config, sql, metrics, log, stack);
    const append: AppendDeps = {
      // This instance's own commits reach its subscribers without waiting for the notification.
      log: notifyCommits(createPgEventLog(sql), (stream, head, events) =>
        readSide.hub.onHead(stream, head, events),
      ),
      keys: createPgAgentKeyLookup(sql),
      verifier: pool,
      signer: {
        sequencerId: identity.sequencerId,
        keyId: identity.keyId,
        publicKey: identity.publicKey,
        signReceipts: (stream, items) => pool.signReceipts(stream, items),
      },
      clock: { now: () => new Date() },
      sha256: nativeSha256,
      limits: {
        maxEventsPerBatch: config.maxEventsPerBatch,
        maxPayloadBytes: config.maxPayloadBytes,
        maxMessageBytes: config.maxMessageBytes,
        maxInFlightBatches: config.maxInFlightBatches,
      },
      tracer: tracer === undefined ? undefined : createSequencingTracer(tracer),
    };
    const auth = await startAuth(config, sql, { now: () => new Date() }, log);
    stack.defer(() => auth.stop());
    const commitments = startCommitments(config, sql, identity, ed25519, metrics, log, stack);
    // Off unless configured; its worker stops before the pool closes. Imported only when configured: the chain
    // client (viem) and the contract's ABI cost tens of MB of memory.
    const anchoring =
      config.anchor === undefined
        ? undefined
        : await (await import("./compose/anchoring.js")).startAnchoring(config.anchor, {
            sql,
            databaseUrl,
            log,
            registry: metrics.registry,
            dataDir: config.dataDir,
          });
    if (anchoring !== undefined) stack.defer(() => anchoring.stop());
    // Client reads that may lag (PullEvents, GetEntityHistory, Subscribe catch-up, proofs): DATABASE_READ_URLS.
    const clientReads = await startReadReplicas(
      config,
      sql,
      { reader: readSide.reader, commitments: commitments.proofDeps.commitments },
      metrics,
      log,
      stack,
    );

    const shutdown = new AbortController();
    const server = createTransports({
      config,
      sql,
      append,
      auth,
      readSide: { ...readSide, reader: clientReads.reader },
      commitments,
      anchors: anchoring?.reader,
      proofReads: { ...commitments.proofDeps, commitments: clientReads.commitments },
      signingKeys: createSequencerKeyList(sql, identity.keyId),
      ed25519,
      metrics,
      log,
      shutdown: shutdown.signal,
      serverVersion: SERVER_VERSION,
      tracer,
    });
    const address = await server.listen(config.port, config.host);
    const url = `http://${address.address}:${address.port}`;
    log.info(
      { url, grpc: `${address.address}:${address.port}` },
      "sequencer listening (gRPC, Connect and gRPC-Web)",
    );

    let stopping: Promise<void> | undefined;
    return {
      address,
      url,
      sequencerId: identity.sequencerId,
      keyId: identity.keyId,
      publicKey: identity.publicKey,
      stop() {
        stopping ??= (async () => {
          log.info("shutting down: no new batches or subscriptions; finishing in-flight batches");
          shutdown.abort();
          await server.close(config.shutdownTimeoutMs);
          await stack.stopAll();
          log.info("stopped");
        })();
        return stopping;
      },
    };
  } catch (err) {
    await stack.stopAll();
    throw err;
  }
}

function printHelp(): void {
  const width = Math.max(...CONFIG_VARIABLES.map((v) => v.name.length));
  const lines = [
    "ves-sequencer: a verifiable event sequencer for VES v1.0",
    "",
    "Usage: npm start            (or: node --import tsx src/main.ts; built: npm run build, then node dist/src/main.js)",
    "",
    "Serves gRPC, Connect and gRPC-Web on one port. Configuration comes from the environment:",
    "",
    ...CONFIG_VARIABLES.map(
      (v) => `  ${v.name.padEnd(width)} ${v.description}\n  ${"".padEnd(width)} default: ${v.default}`,
    ),
    "",
    "HTTP routes: GET /healthz (liveness) and GET /readyz (database reachable) are public; GET /metrics",
    "(Prometheus) needs METRICS_API_KEY (which reads nothing else) or the bootstrap admin key.",
    "",
    "Credentials: authorization: Bearer <JWT> | authorization: ApiKey <key> | x-api-key: <key>, as gRPC/Connect",
    "metadata or HTTP headers. Manage API keys and agent keys with: npm run admin -- --help",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

// Signals closer together than this count as one.
const SIGNAL_REPEAT_MS = 1000;

async function runFromCli(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    printHelp();
    return;
  }
  let config: Config;
  try {
    config = readConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n(run with --help for every variable)\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({
    level: config.logLevel,
    format: chooseLogFormat(config.logFormat, config.env, process.stdout.isTTY === true),
    colorize: process.stdout.isTTY === true,
  });
  const sequencer = await startSequencer(config, log).catch((err: unknown) => {
    if (err instanceof StartupError) {
      // One line the operator can act on; the stack would only bury it.
      process.stderr.write(`failed to start: ${err.message}\n`);
    } else {
      log.fatal({ err }, "failed to start");
    }
    process.exit(1);
  });
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstSignalAt !== undefined) {
      // A Ctrl-C under `npm start` arrives twice at once (from the terminal and forwarded by npm): only a
      // signal sent later, by someone who means it, cuts the drain short.
      if (Date.now() - firstSignalAt < SIGNAL_REPEAT_MS) return;
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    firstSignalAt = Date.now();
    log.info({ signal }, "signal received");
    sequencer.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runFromCli();
}
