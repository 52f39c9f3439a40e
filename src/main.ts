// Composition root: config -> database -> migrations -> identity -> crypto workers -> use cases -> router ->
// server; signals, drain, shutdown.
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pino, { type Logger } from "pino";
import type { Sql } from "postgres";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { errorInterceptor } from "./api/interceptors.js";
import { createKeyRegistryService } from "./api/keyRegistryService.js";
import { createMetrics } from "./api/metrics.js";
import { createSequencerService } from "./api/sequencerService.js";
import { createServer } from "./api/server.js";
import { notifyCommits } from "./app/notifyCommits.js";
import type { AppendDeps } from "./app/ports.js";
import { createSubscriptionHub } from "./app/subscriptionHub.js";
import { CONFIG_VARIABLES, type Config, ConfigError, readConfig } from "./config.js";
import { nativeSha256, serverEd25519 } from "./crypto/native.js";
import { READ_LIMITS } from "./domain/limits.js";
import { createCryptoPool } from "./infra/crypto/cryptoPool.js";
import { createSql, redactUrl } from "./infra/pg/createSql.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./infra/pg/embeddedPostgres.js";
import { migrate, readMigrations } from "./infra/pg/migrate.js";
import { createPgAgentKeyLookup, createPgAgentKeyStore } from "./infra/pg/pgAgentKeyStore.js";
import { createPgCommitFeed } from "./infra/pg/pgCommitFeed.js";
import { createPgEventLog } from "./infra/pg/pgEventLog.js";
import { createPgEventReader } from "./infra/pg/pgEventReader.js";
import { createSequencerKeyList, recordSequencerKey } from "./infra/pg/pgSequencerKeys.js";
import { loadSequencerIdentity } from "./infra/sequencerIdentity.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
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

export async function startSequencer(
  config: Config,
  log: Logger = pino({ level: config.logLevel }),
): Promise<Sequencer> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch((err) => log.error({ err }, "shutdown step failed"));
  };
  try {
    let databaseUrl = config.databaseUrl;
    let embedded: EmbeddedPostgres | undefined;
    if (databaseUrl === undefined) {
      const dir = path.resolve(config.dataDir, "pglite");
      embedded = await startEmbeddedPostgres(dir, config.dbPoolMax + 2);
      const e = embedded;
      cleanups.push(() => e.stop());
      databaseUrl = embedded.url;
      log.info(
        { dataDir: dir, url: databaseUrl },
        "DATABASE_URL is unset: running on an embedded PostgreSQL (PGlite) persisted in the data directory; set DATABASE_URL for production",
      );
    } else {
      log.info({ url: redactUrl(databaseUrl) }, "using PostgreSQL");
    }
    const sql: Sql = createSql(databaseUrl, { max: config.dbPoolMax });
    cleanups.push(() => sql.end({ timeout: 5 }));

    if (config.migrateOnStart) {
      const applied = await migrate(sql, await readMigrations(MIGRATIONS_DIR));
      log.info({ applied }, applied.length === 0 ? "schema is up to date" : "applied migrations");
    }

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
    cleanups.push(() => pool.close());

    const metrics = createMetrics();
    const reader = createPgEventReader(sql);
    let lastTailWarning = 0;
    const hub = createSubscriptionHub({
      reader,
      feed: createPgCommitFeed(sql, {
        pingIntervalMs: config.commitFeedCheckMs,
        onHealth: (healthy, err) =>
          healthy
            ? log.info("commit notifications arrive again")
            : log.warn(
                { err, pollIntervalMs: config.subscribePollIntervalMs },
                "commit notifications do not arrive; live subscribers see new events through polling until they do",
              ),
      }),
      bufferEvents: config.subscriberBufferEvents,
      pollIntervalMs: config.subscribePollIntervalMs,
      maxSubscribers: config.subscriberMax,
      pageEvents: READ_LIMITS.maxPageEvents,
      pageBytes: READ_LIMITS.maxPageBytes,
      observer: {
        notified: () => metrics.notifications.inc(),
        fellBack: () => metrics.subscriberFallbacks.inc(),
        subscribers: (n) => metrics.subscribers.set(n),
        queued: (n) => metrics.queuedEvents.set(n),
        failed: (err) => {
          metrics.tailErrors.inc();
          if (Date.now() - lastTailWarning < 10_000) return;
          lastTailWarning = Date.now();
          log.warn({ err }, "reading a subscribed stream failed; the next poll retries");
        },
      },
    });
    await hub.start();
    cleanups.push(() => hub.close());
    if (embedded !== undefined) {
      log.info(
        { pollIntervalMs: config.subscribePollIntervalMs },
        "embedded PostgreSQL: notifications of other instances' commits may not arrive; subscribers also poll",
      );
    }

    const clock = { now: () => new Date() };
    const limits = {
      maxEventsPerBatch: config.maxEventsPerBatch,
      maxPayloadBytes: config.maxPayloadBytes,
      maxMessageBytes: config.maxMessageBytes,
      maxInFlightBatches: config.maxInFlightBatches,
    };
    const deps: AppendDeps = {
      // This instance's own commits reach its subscribers without waiting for the notification.
      log: notifyCommits(createPgEventLog(sql), (stream, head, events) => hub.onHead(stream, head, events)),
      keys: createPgAgentKeyLookup(sql),
      verifier: pool,
      signer: {
        sequencerId: identity.sequencerId,
        keyId: identity.keyId,
        publicKey: identity.publicKey,
        signReceipts: (stream, items) => pool.signReceipts(stream, items),
      },
      clock,
      sha256: nativeSha256,
      limits,
    };
    const shutdown = new AbortController();
    const server = createServer({
      readMaxBytes: config.maxMessageBytes,
      interceptors: [errorInterceptor(log, metrics)],
      routes: (router) => {
        router.service(
          SequencerService,
          createSequencerService({
            deps,
            log,
            shutdown: shutdown.signal,
            serverVersion: SERVER_VERSION,
            signingKeys: createSequencerKeyList(sql, identity.keyId),
            onBatch: (o, ms) => metrics.recordBatch(o, ms),
            read: {
              reader,
              hub,
              shutdown: shutdown.signal,
              subscribe: {
                maxLagEvents: config.subscriberMaxLagEvents,
                heartbeatDefaultMs: config.subscribeHeartbeatDefaultMs,
                heartbeatMinMs: config.subscribeHeartbeatMinMs,
              },
              onDelivered: (n) => metrics.deliveredEvents.inc(n),
            },
          }),
        );
        router.service(
          KeyRegistryService,
          createKeyRegistryService({
            store: createPgAgentKeyStore(sql),
            clock,
            sha256: nativeSha256,
            ed25519,
          }),
        );
      },
      httpRoutes(req, res) {
        const url = req.url ?? "";
        if (url === "/healthz") {
          res.writeHead(200, { "content-type": "application/json" });
          res.end('{"status":"ok"}\n');
          return true;
        }
        if (url === "/readyz") {
          if (shutdown.signal.aborted) {
            res.writeHead(503, { "content-type": "application/json" });
            res.end('{"status":"shutting down"}\n');
            return true;
          }
          sql`select 1`.then(
            () => {
              res.writeHead(200, { "content-type": "application/json" });
              res.end('{"status":"ready"}\n');
            },
            () => {
              res.writeHead(503, { "content-type": "application/json" });
              res.end('{"status":"database unavailable"}\n');
            },
          );
          return true;
        }
        if (url === "/metrics") {
          metrics.registry.metrics().then((text) => {
            res.writeHead(200, { "content-type": metrics.registry.contentType });
            res.end(text);
          });
          return true;
        }
        return false;
      },
      onSocketError: (err) => log.debug({ err }, "client socket error"),
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
          await cleanup();
          log.info("stopped");
        })();
        return stopping;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function printHelp(): void {
  const width = Math.max(...CONFIG_VARIABLES.map((v) => v.name.length));
  const lines = [
    "ves-sequencer: a verifiable event sequencer for VES v1.0",
    "",
    "Usage: npm start            (or: node --import tsx src/main.ts)",
    "",
    "Serves gRPC, Connect and gRPC-Web on one port. Configuration comes from the environment:",
    "",
    ...CONFIG_VARIABLES.map(
      (v) => `  ${v.name.padEnd(width)} ${v.description}\n  ${"".padEnd(width)} default: ${v.default}`,
    ),
    "",
    "HTTP routes: GET /healthz (liveness), GET /readyz (database reachable), GET /metrics (Prometheus).",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

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
  const log = pino({ level: config.logLevel });
  const sequencer = await startSequencer(config, log).catch((err: unknown) => {
    log.fatal({ err }, "failed to start");
    process.exit(1);
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
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
