// Composition root: config -> database -> migrations -> identity -> crypto workers -> use cases -> router ->
// server; signals, drain, shutdown.
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync, writeSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import pino, { type Logger } from "pino";
import type { Sql } from "postgres";
import { AnchorService } from "../gen/ves/sequencer/v1/anchor_pb.js";
import { ApiKeyService } from "../gen/ves/sequencer/v1/api_key_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { createAdmission } from "./api/admission.js";
import { createAnchorService } from "./api/anchorService.js";
import { createApiKeyService } from "./api/apiKeyService.js";
import { createAuthGate } from "./api/authGate.js";
import { createGrpcUnaryHandler, unaryRoutes } from "./api/grpcUnary.js";
import { createHttpRoutes } from "./api/httpRoutes.js";
import { authInterceptor, errorInterceptor } from "./api/interceptors.js";
import { createKeyRegistryService } from "./api/keyRegistryService.js";
import { createMetrics } from "./api/metrics.js";
import { POLICY_TABLE, requirePolicies } from "./api/policies.js";
import { createProofService } from "./api/proofService.js";
import { createSequencerService } from "./api/sequencerService.js";
import { createServer } from "./api/server.js";
import type { AuthenticateDeps } from "./app/authenticate.js";
import { createCommitmentWatch } from "./app/commitmentWatch.js";
import { startCommitmentWorker } from "./app/commitmentWorker.js";
import { notifyCommits } from "./app/notifyCommits.js";
import type { AppendDeps, ProofDeps } from "./app/ports.js";
import { createRateLimiter } from "./app/rateLimiter.js";
import { createSubscriptionHub } from "./app/subscriptionHub.js";
import { type Anchoring, startAnchoring } from "./compose/anchoring.js";
import { CONFIG_VARIABLES, type Config, ConfigError, readConfig } from "./config.js";
import { utf8 } from "./crypto/bytes.js";
import { constantTimeEqual, nativeSha256, serverEd25519 } from "./crypto/native.js";
import { READ_LIMITS } from "./domain/limits.js";
import { loadOrCreateDevBootstrapKey } from "./infra/bootstrapAdminKey.js";
import { createCachedApiKeyLookup } from "./infra/cachedApiKeyLookup.js";
import { createCryptoPool } from "./infra/crypto/cryptoPool.js";
import { createJoseTokenVerifier } from "./infra/joseTokenVerifier.js";
import { createSql, redactUrl } from "./infra/pg/createSql.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./infra/pg/embeddedPostgres.js";
import { migrate, readMigrations } from "./infra/pg/migrate.js";
import { createPgAgentKeyLookup, createPgAgentKeyStore } from "./infra/pg/pgAgentKeyStore.js";
import { createPgApiKeyStore, findApiKey } from "./infra/pg/pgApiKeyStore.js";
import { createPgAuditLogReader } from "./infra/pg/pgAuditLog.js";
import { listenAuthChanges } from "./infra/pg/pgAuthChanges.js";
import { createPgCommitFeed } from "./infra/pg/pgCommitFeed.js";
import { createPgCommitmentStore } from "./infra/pg/pgCommitmentStore.js";
import { createPgEventLog } from "./infra/pg/pgEventLog.js";
import { createPgEventReader } from "./infra/pg/pgEventReader.js";
import { createSequencerKeyList, recordSequencerKey } from "./infra/pg/pgSequencerKeys.js";
import { loadSequencerIdentity } from "./infra/sequencerIdentity.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const MIGRATIONS_DIR = path.join(ROOT, "migrations");
export const SERVER_VERSION: string = (
  JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }
).version;

/** Every service the server registers; each of their methods must have an access policy (api/policies.ts). */
export const SERVICES: readonly DescService[] = [
  SequencerService,
  KeyRegistryService,
  ApiKeyService,
  ProofService,
  AnchorService,
];
// Events of one Append stream awaiting their receipt upgrade before the server stops reading that stream.
const RECEIPT_UPGRADES_MAX_PENDING = 65_536;
// After a client half-closes its Append stream, pending receipt upgrades are waited for COMMIT_MAX_AGE_MS and this.
const RECEIPT_UPGRADES_DRAIN_MS = 10_000;

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
    const auth = await startAuth(config, sql, clock, log);
    cleanups.push(() => auth.stop());
    const shutdown = new AbortController();
    const signingKeys = createSequencerKeyList(sql, identity.keyId);

    // Commitments: the worker seals, the watch tells Append streams with receipt upgrades what was sealed.
    const proofDeps: ProofDeps = {
      commitments: createPgCommitmentStore(sql, { treeCacheBytes: config.proofTreeCacheBytes }),
      sha256: nativeSha256,
    };
    const watch = createCommitmentWatch(proofDeps.commitments, {
      pollMs: config.commitPollMs,
      onError: (err) => log.error({ err }, "commitment watch: polling sealed ends failed"),
    });
    cleanups.push(async () => watch.stop());
    if (config.commitWorker) {
      const signCheckpoint = ed25519.createSigner(identity.seed);
      const worker = startCommitmentWorker(
        {
          ...proofDeps,
          signer: { sequencerId: identity.sequencerId, keyId: identity.keyId, sign: signCheckpoint },
          clock,
          newId: randomUUID,
        },
        {
          policy: { maxEvents: config.commitMaxEvents, maxAgeMs: config.commitMaxAgeMs },
          pollMs: config.commitPollMs,
          concurrency: config.commitConcurrency,
          onSealed(c, firstSequencedAt, ms) {
            const lagMs =
              firstSequencedAt === undefined
                ? undefined
                : c.committedAt.getTime() - firstSequencedAt.getTime();
            metrics.recordSeal(c, lagMs, ms);
            watch.notify(c, c.sequenceEnd);
            log.debug(
              {
                tenantId: c.tenantId,
                storeId: c.storeId,
                commitmentId: c.commitmentId,
                sequenceStart: String(c.sequenceStart),
                sequenceEnd: String(c.sequenceEnd),
                lagMs,
                ms: Math.round(ms * 10) / 10,
              },
              "commitment sealed",
            );
          },
          onError(err) {
            metrics.sealErrors.inc();
            log.error({ err }, "commitment worker: sealing failed; will retry");
          },
          ...(config.commitFault === "exit_before_commit"
            ? {
                beforeCommit(c) {
                  // Written synchronously: the process dies on the next line, before the logger would flush.
                  const line = {
                    level: 40,
                    time: Date.now(),
                    commitmentId: c.commitmentId,
                    sequenceEnd: String(c.sequenceEnd),
                    msg: "COMMIT_FAULT=exit_before_commit: killing the process before the commitment commits",
                  };
                  writeSync(2, `${JSON.stringify(line)}\n`);
                  process.kill(process.pid, "SIGKILL");
                },
              }
            : {}),
        },
      );
      // Registered after the pool, so it stops (finishing the seal in flight) before the pool closes.
      cleanups.push(() => worker.stop());
    }

    // Anchoring (off unless configured): its worker stops before the pool closes.
    let anchoring: Anchoring | undefined;
    if (config.anchor !== undefined) {
      const a = await startAnchoring(config.anchor, {
        sql,
        databaseUrl,
        log,
        registry: metrics.registry,
        dataDir: config.dataDir,
      });
      anchoring = a;
      cleanups.push(() => a.stop());
    }

    const proofService = createProofService({
      deps: proofDeps,
      crypto: { sha256: nativeSha256, ed25519 },
      signingKeys,
    });
    const anchorService = createAnchorService({ proof: proofDeps, anchors: anchoring?.reader });
    const server = createServer({
      readMaxBytes: config.maxMessageBytes,
      grpcUnary: createGrpcUnaryHandler(
        [...unaryRoutes(ProofService, proofService), ...unaryRoutes(AnchorService, anchorService)],
        {
          gate: auth.gate,
          policies: POLICY_TABLE,
          log,
          metrics,
          readMaxBytes: config.maxMessageBytes,
        },
      ),
      interceptors: [errorInterceptor(log, metrics), authInterceptor(auth.gate, POLICY_TABLE)],
      routes: requirePolicies((router) => {
        router.service(
          SequencerService,
          createSequencerService({
            deps,
            admission: createAdmission(config.maxConcurrentBatches),
            log,
            shutdown: shutdown.signal,
            serverVersion: SERVER_VERSION,
            signingKeys,
            onBatch: (o, ms) => metrics.recordBatch(o, ms),
            receiptUpgrades: {
              deps: proofDeps,
              watch,
              log,
              shutdown: shutdown.signal,
              maxPending: RECEIPT_UPGRADES_MAX_PENDING,
              drainTimeoutMs: config.commitMaxAgeMs + RECEIPT_UPGRADES_DRAIN_MS,
              onUpgrade: (n) => metrics.receiptUpgrades.inc(n),
            },
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
        router.service(ProofService, proofService);
        router.service(AnchorService, anchorService);
        router.service(
          KeyRegistryService,
          createKeyRegistryService({
            store: createPgAgentKeyStore(sql, nativeSha256),
            audit: createPgAuditLogReader(sql),
            clock,
            sha256: nativeSha256,
            ed25519,
          }),
        );
        router.service(
          ApiKeyService,
          createApiKeyService({
            store: createPgApiKeyStore(sql, nativeSha256),
            lookup: auth.apiKeys,
            clock,
            sha256: nativeSha256,
            random: (n) => new Uint8Array(randomBytes(n)),
          }),
        );
        const unlisted = router.handlers
          .filter((h) => !SERVICES.includes(h.service))
          .map((h) => h.service.typeName);
        if (unlisted.length > 0)
          throw new Error(`add ${[...new Set(unlisted)].join(", ")} to SERVICES in src/main.ts`);
      }),
      httpRoutes: createHttpRoutes(
        auth.gate,
        POLICY_TABLE,
        {
          "/healthz": async () => ({
            status: 200,
            contentType: "application/json",
            body: '{"status":"ok"}\n',
          }),
          "/readyz": async () => {
            if (shutdown.signal.aborted) {
              return { status: 503, contentType: "application/json", body: '{"status":"shutting down"}\n' };
            }
            return sql`select 1`.then(
              () => ({ status: 200, contentType: "application/json", body: '{"status":"ready"}\n' }),
              () => ({
                status: 503,
                contentType: "application/json",
                body: '{"status":"database unavailable"}\n',
              }),
            );
          },
          "/metrics": async () => ({
            status: 200,
            contentType: metrics.registry.contentType,
            body: await metrics.registry.metrics(),
          }),
        },
        log,
      ),
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

interface Auth {
  readonly gate: ReturnType<typeof createAuthGate>;
  readonly apiKeys: ReturnType<typeof createCachedApiKeyLookup>;
  stop(): Promise<void>;
}

/** Credentials: the bootstrap admin key, JWT verification, the API-key cache and its cross-instance invalidation. */
async function startAuth(config: Config, sql: Sql, clock: { now(): Date }, log: Logger): Promise<Auth> {
  const { auth } = config;
  let bootstrapKey = auth.bootstrapAdminKey;
  if (auth.mode === "disabled") {
    log.warn(
      "AUTH_MODE=disabled: every request runs as an admin of every tenant (development and test only)",
    );
  } else if (bootstrapKey === undefined && config.env === "development") {
    const dev = await loadOrCreateDevBootstrapKey(config.dataDir);
    bootstrapKey = dev.key;
    log.info(
      { file: dev.file },
      dev.created ? "generated a development bootstrap admin key" : "development bootstrap admin key loaded",
    );
  } else if (bootstrapKey === undefined && auth.jwtSecret === undefined) {
    log.warn(
      "neither BOOTSTRAP_ADMIN_API_KEY nor JWT_SECRET is set: only API keys already in the database work",
    );
  }
  const apiKeys = createCachedApiKeyLookup((prefix) => findApiKey(sql, prefix), {
    ttlMs: auth.cacheTtlMs,
    clock,
  });
  let listener: { stop(): Promise<void> } | undefined;
  if (auth.mode === "required") {
    try {
      listener = await listenAuthChanges(
        sql,
        (change) => apiKeys.forget(change.prefix),
        () => apiKeys.clear(),
      );
    } catch (err) {
      log.warn(
        { err },
        "LISTEN failed: API-key revocations reach this instance only through AUTH_CACHE_TTL_MS",
      );
    }
  }
  const authn: AuthenticateDeps = {
    apiKeys,
    tokens:
      auth.jwtSecret === undefined
        ? undefined
        : createJoseTokenVerifier({
            secret: auth.jwtSecret,
            issuer: auth.jwtIssuer,
            audience: auth.jwtAudience,
            clockToleranceSeconds: 5,
          }),
    bootstrapKeyHash: bootstrapKey === undefined ? undefined : nativeSha256(utf8(bootstrapKey)),
    sha256: nativeSha256,
    constantTimeEqual,
    clock,
  };
  return {
    gate: createAuthGate({ mode: auth.mode, authn, limiter: createRateLimiter(clock) }),
    apiKeys,
    stop: async () => {
      await listener?.stop();
    },
  };
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
    "HTTP routes: GET /healthz (liveness) and GET /readyz (database reachable) are public; GET /metrics",
    "(Prometheus) needs an admin credential for every tenant (the bootstrap admin key).",
    "",
    "Credentials: authorization: Bearer <JWT> | authorization: ApiKey <key> | x-api-key: <key>, as gRPC/Connect",
    "metadata or HTTP headers. Manage API keys and agent keys with: npm run admin -- --help",
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
