// Configuration: read and validate the environment once, fail fast with a clear message, never log secrets.
import os from "node:os";

export type Environment = "development" | "test" | "production";

export interface Config {
  readonly env: Environment;
  /** Unset: run on an embedded PostgreSQL in dataDir/postgres (development and test only). */
  readonly databaseUrl: string | undefined;
  /** Port of the embedded PostgreSQL; 0: a free one. */
  readonly embeddedPostgresPort: number;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** From SEQUENCER_ID; unset in development means generated once and kept in dataDir. */
  readonly sequencerId: string | undefined;
  /** 32-byte Ed25519 seed from SEQUENCER_SIGNING_KEY; unset in development means generated once and kept. */
  readonly signingSeed: Uint8Array | undefined;
  readonly signingKeyId: string | undefined;
  readonly maxEventsPerBatch: number;
  readonly maxPayloadBytes: number;
  readonly maxMessageBytes: number;
  readonly maxInFlightBatches: number;
  readonly maxConcurrentBatches: number;
  /** Of maxConcurrentBatches, how many one tenant's batches may hold. */
  readonly maxConcurrentBatchesPerTenant: number;
  /** Open TCP connections; 0: no bound. */
  readonly maxConnections: number;
  /** A connection with no request in progress for this long is closed; 0: never. */
  readonly connectionIdleTimeoutMs: number;
  /** An Append stream with no request for this long (and no subscription) ends with UNAVAILABLE; 0: never. */
  readonly appendIdleTimeoutMs: number;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly dbPoolMax: number;
  /** Operations that may wait for a pool connection, and for how long, before new work is refused. */
  readonly dbQueueMax: number;
  readonly dbQueueTimeoutMs: number;
  /** Session limits of pool connections (0: none). */
  readonly dbStatementTimeoutMs: number;
  readonly dbLockTimeoutMs: number;
  readonly dbIdleInTransactionTimeoutMs: number;
  /** Attempts to reach the database at start-up (1 s, 2 s, 4 s... between them). */
  readonly dbConnectAttempts: number;
  /** A new database connection that is not ready within this long fails (UNAVAILABLE) and is retried. */
  readonly dbConnectTimeoutMs: number;
  /** Hot standbys that serve reads (PullEvents, GetEntityHistory, Subscribe catch-up, commitments, proofs). */
  readonly databaseReadUrls: readonly string[];
  readonly replicaMaxLagMs: number;
  readonly replicaWaitMs: number;
  readonly replicaCheckMs: number;
  readonly cryptoWorkers: number;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** auto: human-readable lines in development on a terminal, JSON lines otherwise. */
  readonly logFormat: "auto" | "json" | "pretty";
  /** Export OpenTelemetry traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT set, OTEL_SDK_DISABLED not true). */
  readonly otelTracing: boolean;
  readonly shutdownTimeoutMs: number;
  readonly migrateOnStart: boolean;
  /** Live events one subscriber may have queued before it falls back to reading the log. */
  readonly subscriberBufferEvents: number;
  /** A subscriber that was live and falls this far behind the head is ended with ResourceExhausted. */
  readonly subscriberMaxLagEvents: number;
  readonly subscriberMax: number;
  readonly subscribeHeartbeatDefaultMs: number;
  readonly subscribeHeartbeatMinMs: number;
  readonly subscribePollIntervalMs: number;
  readonly commitFeedCheckMs: number;
  /** Run the commitment worker in this instance. */
  readonly commitWorker: boolean;
  readonly commitMaxEvents: number;
  readonly commitMaxAgeMs: number;
  /** Streams the commitment worker seals side by side. */
  readonly commitConcurrency: number;
  /** Bytes of sealed commitment trees cached in memory for inclusion proofs. */
  readonly proofTreeCacheBytes: number;
  readonly commitPollMs: number;
  /** Test-only fault injection: "exit_before_commit" kills the process with a commitment inserted, uncommitted. */
  readonly commitFault: "exit_before_commit" | undefined;
  readonly auth: AuthConfig;
  /** Undefined: anchoring is off (ANCHOR_RPC_URL unset and ANCHOR_DEV_ANVIL off). */
  readonly anchor: AnchorConfig | undefined;
}

export interface AnchorConfig {
  /** Development only: start a local anvil, deploy the contract, anchor to it (rpcUrl etc. then come from it). */
  readonly devAnvil: boolean;
  readonly rpcUrl: string | undefined;
  readonly chainId: number | undefined;
  readonly contractAddress: `0x${string}` | undefined;
  /** The submitter's secp256k1 key (a function, so the key never appears when a config is logged or printed). */
  readonly submitterKey: (() => `0x${string}`) | undefined;
  readonly confirmations: number;
  readonly intervalMs: number;
  readonly batchMax: number;
  readonly maxGas: bigint;
  readonly slowRetryMs: number;
  readonly leaderPollMs: number;
  /** A transaction not mined this long after its last version was sent is replaced with higher fees. */
  readonly replaceAfterMs: number;
  /** The max fee per gas (wei) never exceeded by a first version or a replacement. */
  readonly maxFeePerGas: bigint;
  /** After a client that set AppendRequest.anchor_upgrades half-closes, how long pending upgrades are waited for. */
  readonly upgradeDrainMs: number;
  /** Test-only fault injection: "exit_after_send" kills the process right after a transaction is broadcast. */
  readonly fault: "exit_after_send" | undefined;
}

export interface AuthConfig {
  /** "disabled" runs every request as the bootstrap admin: development and test only. */
  readonly mode: "required" | "disabled";
  /** HS256 secret for bearer tokens; undefined: bearer tokens are refused. */
  readonly jwtSecret: Uint8Array | undefined;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  /** Undefined: none (in development one is generated into DATA_DIR at start-up). */
  readonly bootstrapAdminKey: string | undefined;
  /** The operator's scraper credential: GET /metrics and nothing else. Undefined: none. */
  readonly metricsApiKey: string | undefined;
  /** Lifetime of cached API-key lookups: the bound on a revocation's delay if a notification is lost. */
  readonly cacheTtlMs: number;
}

export interface ConfigVariable {
  readonly name: string;
  readonly default: string;
  readonly description: string;
}

/** Every variable the server reads, for --help and the README. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  {
    name: "SEQUENCER_ENV",
    default: "development",
    description: "development, test or production (unknown values count as production)",
  },
  {
    name: "DATABASE_URL",
    default: "(unset)",
    description:
      "PostgreSQL URL; required in production; unset (development, test) starts an embedded PostgreSQL server in DATA_DIR/postgres",
  },
  {
    name: "EMBEDDED_POSTGRES_PORT",
    default: "0",
    description: "port of the embedded PostgreSQL on 127.0.0.1 (0: any free port)",
  },
  {
    name: "DATA_DIR",
    default: ".data",
    description:
      "where development state lives: embedded PostgreSQL (postgres/, postgres-password, postgres.log), generated sequencer key, bootstrap admin key",
  },
  { name: "HOST", default: "127.0.0.1", description: "address to listen on" },
  {
    name: "PORT",
    default: "50051",
    description: "one port for gRPC (HTTP/2), Connect and gRPC-Web (HTTP/1.1 and HTTP/2)",
  },
  {
    name: "SEQUENCER_ID",
    default: "(generated once in development)",
    description: "UUID that receipts carry; required in production",
  },
  {
    name: "SEQUENCER_SIGNING_KEY",
    default: "(generated once in development)",
    description:
      "Ed25519 seed for receipts: 64 hex chars (0x optional) or base64/base64url of 32 bytes; required in production",
  },
  {
    name: "SEQUENCER_KEY_ID",
    default: "ed25519:<first 16 hex of SHA-256(public key)>",
    description: "id of the receipt-signing key, carried by receipts",
  },
  { name: "MAX_EVENTS_PER_BATCH", default: "1000", description: "events per batch" },
  {
    name: "MAX_PAYLOAD_BYTES",
    default: "1048576",
    description: "bytes of one event payload (plaintext JSON or ciphertext)",
  },
  { name: "MAX_MESSAGE_BYTES", default: "16777216", description: "bytes of one request message" },
  {
    name: "MAX_IN_FLIGHT_BATCHES",
    default: "4",
    description: "batches one Append stream may have in flight before the server stops reading it",
  },
  {
    name: "MAX_CONCURRENT_BATCHES",
    default: "64",
    description: "batches held in memory server-wide (all streams and unary calls); more wait their turn",
  },
  {
    name: "MAX_CONCURRENT_BATCHES_PER_TENANT",
    default: "16",
    description:
      "of MAX_CONCURRENT_BATCHES, how many one tenant's batches may hold (its further batches wait; other tenants' do not)",
  },
  {
    name: "MAX_CONNECTIONS",
    default: "1024",
    description: "open client connections; a connection past it is closed at once (0 = no bound)",
  },
  {
    name: "CONNECTION_IDLE_TIMEOUT_MS",
    default: "300000",
    description:
      "a connection with no request in progress for this long is closed (HTTP/2: GOAWAY; clients reconnect); 0 = never",
  },
  {
    name: "APPEND_IDLE_TIMEOUT_MS",
    default: "300000",
    description:
      "an Append stream that sends no batch for this long (and has no subscription) ends with UNAVAILABLE after its batches are answered; 0 = never",
  },
  {
    name: "KEEPALIVE_INTERVAL_MS",
    default: "60000",
    description: "how often the server pings each HTTP/2 client (0 = never)",
  },
  {
    name: "KEEPALIVE_TIMEOUT_MS",
    default: "20000",
    description: "a client that does not answer a ping within this long is disconnected",
  },
  { name: "DB_POOL_MAX", default: "16", description: "PostgreSQL connections" },
  {
    name: "DB_QUEUE_MAX",
    default: "256",
    description:
      "database operations that may wait for a pool connection (DB_POOL_MAX transactions and 8 x DB_POOL_MAX operations run at once); past it new work fails at once with UNAVAILABLE and a retry hint",
  },
  {
    name: "DB_QUEUE_TIMEOUT_MS",
    default: "5000",
    description: "how long one operation may wait for a pool connection before it fails with UNAVAILABLE",
  },
  {
    name: "DB_STATEMENT_TIMEOUT_MS",
    default: "30000",
    description: "statement_timeout of pool sessions (0: none); migrations are exempt",
  },
  {
    name: "DB_LOCK_TIMEOUT_MS",
    default: "10000",
    description: "lock_timeout of pool sessions (0: none); migrations are exempt",
  },
  {
    name: "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
    default: "60000",
    description: "idle_in_transaction_session_timeout of pool sessions (0: none)",
  },
  {
    name: "DB_CONNECT_ATTEMPTS",
    default: "5",
    description: "attempts to reach PostgreSQL at start-up, 1 s, 2 s, 4 s... apart, before exiting",
  },
  {
    name: "DB_CONNECT_TIMEOUT_MS",
    default: "5000",
    description:
      "a new PostgreSQL connection not ready within this long fails; the calls waiting for it get UNAVAILABLE",
  },
  {
    name: "DATABASE_READ_URLS",
    default: "(unset)",
    description:
      "comma-separated URLs of hot standbys of DATABASE_URL that serve PullEvents, GetEntityHistory, Subscribe catch-up, commitments and proofs (DB_POOL_MAX connections each); sequencing, keys and live notifications stay on the primary",
  },
  {
    name: "REPLICA_MAX_LAG_MS",
    default: "5000",
    description:
      "a replica whose replay is further behind the primary is taken out of rotation until it catches up",
  },
  {
    name: "REPLICA_WAIT_MS",
    default: "200",
    description:
      "how long a read waits for a replica to apply what it needs (a cursor past its head) before the primary serves it",
  },
  { name: "REPLICA_CHECK_MS", default: "1000", description: "how often each replica's lag is measured" },
  {
    name: "CRYPTO_WORKERS",
    default: "(number of CPUs)",
    description: "worker threads for Ed25519 and hashing",
  },
  { name: "LOG_LEVEL", default: "info", description: "fatal, error, warn, info, debug, trace or silent" },
  {
    name: "LOG_FORMAT",
    default: "auto",
    description:
      "auto: human-readable lines when SEQUENCER_ENV=development and stdout is a terminal, JSON lines otherwise; json or pretty force one",
  },
  {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: "(unset: no tracing)",
    description:
      "OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318): one span per RPC and per sequencing transaction; the standard OTEL_* variables apply (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, _HEADERS, _TIMEOUT, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*)",
  },
  {
    name: "OTEL_SERVICE_NAME",
    default: "(ves-sequencer)",
    description: "service.name of the exported spans",
  },
  {
    name: "OTEL_SDK_DISABLED",
    default: "false",
    description: "true turns tracing off even with an endpoint set",
  },
  { name: "SHUTDOWN_TIMEOUT_MS", default: "15000", description: "how long SIGTERM waits for in-flight work" },
  { name: "MIGRATE_ON_START", default: "true", description: "apply pending migrations at start-up" },
  {
    name: "AUTH_MODE",
    default: "required",
    description:
      "required: every RPC and route except /healthz and /readyz needs a credential; disabled (development and test only): everyone is admin",
  },
  {
    name: "BOOTSTRAP_ADMIN_API_KEY",
    default: "(unset; generated once into DATA_DIR in development)",
    description:
      "an admin key for every tenant, for `npm run admin` and first setup; at least 32 characters in production",
  },
  {
    name: "JWT_SECRET",
    default: "(unset: bearer tokens refused)",
    description: "HS256 secret for JWT bearer tokens; at least 32 bytes in production",
  },
  {
    name: "METRICS_API_KEY",
    default: "(unset)",
    description:
      "a credential for Prometheus scrapers: reads GET /metrics and nothing else; at least 32 characters in production",
  },
  { name: "JWT_ISSUER", default: "ves-sequencer", description: "the iss every JWT must carry" },
  { name: "JWT_AUDIENCE", default: "ves-api", description: "the aud every JWT must carry" },
  {
    name: "AUTH_CACHE_TTL_MS",
    default: "1000",
    description:
      "how long an API-key lookup is cached (revocations also reach every instance at once via LISTEN/NOTIFY)",
  },
  {
    name: "COMMIT_WORKER",
    default: "true",
    description:
      "run the commitment worker here (any number of instances may: one seals a given stream at a time)",
  },
  {
    name: "COMMIT_MAX_EVENTS",
    default: "1024",
    description: "seal a stream's waiting events once this many wait; also the most events per commitment",
  },
  {
    name: "COMMIT_MAX_AGE_MS",
    default: "500",
    description: "seal a stream's waiting events once the oldest has waited this long",
  },
  {
    name: "COMMIT_CONCURRENCY",
    default: "1",
    description:
      "streams the commitment worker seals side by side (one keeps up with peak ingest and keeps sealing off the ingest tail; raise it for many streams)",
  },
  {
    name: "PROOF_TREE_CACHE_MB",
    default: "64",
    description:
      "memory for sealed commitment trees kept for inclusion proofs (64 KiB per 1,024-event commitment; least recently used go first)",
  },
  {
    name: "COMMIT_POLL_MS",
    default: "100",
    description: "how often to look for new events to seal, and for commitments sealed by other instances",
  },
  {
    name: "COMMIT_FAULT",
    default: "(unset)",
    description:
      "tests only, refused in production: exit_before_commit kills the process by SIGKILL after a commitment is inserted, before its transaction commits",
  },
  {
    name: "SUBSCRIBER_BUFFER_EVENTS",
    default: "4096",
    description:
      "live events one subscriber may have queued; past that it falls back to reading the database at its own pace",
  },
  {
    name: "SUBSCRIBER_MAX_LAG_EVENTS",
    default: "100000",
    description:
      "a subscriber that had caught up and then falls this many events behind the head ends with RESOURCE_EXHAUSTED",
  },
  { name: "SUBSCRIBER_MAX", default: "10000", description: "live subscriptions per instance" },
  {
    name: "SUBSCRIBE_HEARTBEAT_DEFAULT_MS",
    default: "15000",
    description: "heartbeat interval of a quiet subscription that does not choose one (0 = none)",
  },
  {
    name: "SUBSCRIBE_HEARTBEAT_MIN_MS",
    default: "250",
    description: "shortest heartbeat interval a subscriber may ask for",
  },
  {
    name: "SUBSCRIBE_POLL_INTERVAL_MS",
    default: "1000",
    description:
      "how often the heads of subscribed streams are re-read, so a lost notification costs at most this much latency",
  },
  {
    name: "COMMIT_FEED_CHECK_MS",
    default: "10000",
    description:
      "how often the LISTEN connection checks itself with a ping (and listens again if it went deaf)",
  },
  {
    name: "ANCHOR_RPC_URL",
    default: "(unset: anchoring off)",
    description:
      "JSON-RPC URL of the EVM chain commitments are anchored on; with ANCHOR_CHAIN_ID, ANCHOR_CONTRACT_ADDRESS and ANCHOR_SUBMITTER_KEY",
  },
  {
    name: "ANCHOR_CHAIN_ID",
    default: "(required with ANCHOR_RPC_URL)",
    description: "the chain's id (checked)",
  },
  {
    name: "ANCHOR_CONTRACT_ADDRESS",
    default: "(required with ANCHOR_RPC_URL)",
    description: "address of the VesAnchor contract (deploy one with `npm run admin -- anchor-deploy`)",
  },
  {
    name: "ANCHOR_SUBMITTER_KEY",
    default: "(required with ANCHOR_RPC_URL)",
    description: "secp256k1 private key (0x + 64 hex) of an authorized submitter; never logged",
  },
  {
    name: "ANCHOR_CONFIRMATIONS",
    default: "6",
    description: "an anchor is final once its block and this many - 1 blocks after it are on the chain",
  },
  { name: "ANCHOR_INTERVAL_MS", default: "5000", description: "pause between anchoring rounds" },
  { name: "ANCHOR_BATCH_MAX", default: "32", description: "commitments per anchorMany transaction at most" },
  {
    name: "ANCHOR_MAX_GAS",
    default: "5000000",
    description: "gas of one anchoring transaction at most (a larger batch is cut to fit)",
  },
  {
    name: "ANCHOR_SLOW_RETRY_MS",
    default: "60000",
    description:
      "wait after a failure that is not transient (the contract refused, the submitter has no funds) before that stream is tried again",
  },
  {
    name: "ANCHOR_LEADER_POLL_MS",
    default: "1000",
    description: "how often a stand-by instance tries to become the anchoring leader",
  },
  {
    name: "ANCHOR_REPLACE_AFTER_MS",
    default: "30000",
    description:
      "an anchoring transaction not mined this long after it (or its last replacement) was sent is replaced: same nonce and calldata, each fee raised by at least 12.5 % and to at least the network's current estimate",
  },
  {
    name: "ANCHOR_MAX_FEE_GWEI",
    default: "500",
    description:
      "max fee per gas (gwei, decimals allowed) an anchoring transaction never exceeds; a transaction whose next replacement would pass it waits at its fees and is reported (ves_anchor_tx_stuck_at_max_fee)",
  },
  {
    name: "ANCHOR_FAULT",
    default: "(unset)",
    description:
      "tests only, refused in production: exit_after_send kills the process by SIGKILL right after an anchoring transaction is broadcast, before its receipt",
  },
  {
    name: "ANCHOR_DEV_ANVIL",
    default: "false",
    description:
      "development only: start a local anvil (npm @foundry-rs/anvil), deploy VesAnchor and anchor to it with anvil's public dev key",
  },
  {
    name: "ANCHOR_UPGRADE_DRAIN_MS",
    default: "120000",
    description:
      "after a client that set AppendRequest.anchor_upgrades half-closes its Append stream, how long pending sealed and anchored upgrades are waited for",
  },
];

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} expected an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A positive amount of gwei (up to 9 decimals, at most 10^9 gwei) in wei. */
function gwei(env: NodeJS.ProcessEnv, name: string, fallback: string): bigint {
  const raw = env[name] === undefined || env[name] === "" ? fallback : (env[name] as string);
  const m = /^(\d{1,10})(?:\.(\d{1,9}))?$/.exec(raw);
  const wei = m === null ? 0n : BigInt(m[1] as string) * 10n ** 9n + BigInt((m[2] ?? "").padEnd(9, "0"));
  if (wei <= 0n || wei > 10n ** 18n) {
    throw new ConfigError(
      `${name} expected an amount of gwei above 0 and at most 1000000000 (up to 9 decimals), got ${JSON.stringify(raw)}`,
    );
  }
  return wei;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} expected true or false, got ${JSON.stringify(raw)}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses an Ed25519 seed: 64 hex characters (0x optional), or base64 / base64url of 32 bytes. */
export function parseSigningSeed(raw: string, name = "SEQUENCER_SIGNING_KEY"): Uint8Array {
  const hex = raw.startsWith("0x") || raw.startsWith("0X") ? raw.slice(2) : raw;
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return new Uint8Array(Buffer.from(hex, "hex"));
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(raw)) {
    const b = Buffer.from(raw.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (b.length === 32) return new Uint8Array(b);
  }
  throw new ConfigError(
    `${name} expected 64 hex characters or base64 of 32 bytes, got ${raw.length} characters`,
  );
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const rawEnv = env.SEQUENCER_ENV ?? "development";
  const mode: Environment = rawEnv === "development" || rawEnv === "test" ? rawEnv : "production";
  const sequencerId =
    env.SEQUENCER_ID === undefined || env.SEQUENCER_ID === "" ? undefined : env.SEQUENCER_ID;
  if (sequencerId !== undefined && !UUID.test(sequencerId)) {
    throw new ConfigError(`SEQUENCER_ID expected a UUID, got ${JSON.stringify(sequencerId)}`);
  }
  const rawKey = env.SEQUENCER_SIGNING_KEY;
  const signingSeed = rawKey === undefined || rawKey === "" ? undefined : parseSigningSeed(rawKey);
  if (mode === "production" && (sequencerId === undefined || signingSeed === undefined)) {
    throw new ConfigError(
      `SEQUENCER_ENV=${rawEnv} counts as production, which needs SEQUENCER_ID and SEQUENCER_SIGNING_KEY (a pinned identity); set them, or set SEQUENCER_ENV=development`,
    );
  }
  const logLevel = env.LOG_LEVEL ?? "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL expected fatal, error, warn, info, debug, trace or silent, got ${JSON.stringify(logLevel)}`,
    );
  }
  const logFormat = env.LOG_FORMAT === undefined || env.LOG_FORMAT === "" ? "auto" : env.LOG_FORMAT;
  if (logFormat !== "auto" && logFormat !== "json" && logFormat !== "pretty") {
    throw new ConfigError(`LOG_FORMAT expected auto, json or pretty, got ${JSON.stringify(logFormat)}`);
  }
  const otlpEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || "";
  const otelDisabled = bool(env, "OTEL_SDK_DISABLED", false);
  const auth = readAuthConfig(env, mode, rawEnv);
  const databaseUrl =
    env.DATABASE_URL === undefined || env.DATABASE_URL === "" ? undefined : env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL expected a postgres:// or postgresql:// URL");
  }
  if (databaseUrl === undefined && mode === "production") {
    throw new ConfigError(
      `DATABASE_URL is required: SEQUENCER_ENV=${rawEnv} counts as production, and the embedded PostgreSQL is for development and tests only`,
    );
  }
  const databaseReadUrls = (env.DATABASE_READ_URLS ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  for (const [i, u] of databaseReadUrls.entries()) {
    if (!/^postgres(ql)?:\/\//.test(u)) {
      throw new ConfigError(
        `DATABASE_READ_URLS entry ${i + 1} expected a postgres:// or postgresql:// URL (one host each, comma-separated)`,
      );
    }
  }
  if (databaseReadUrls.length > 0 && databaseUrl === undefined) {
    throw new ConfigError("DATABASE_READ_URLS needs DATABASE_URL (the primary they replicate)");
  }
  const commitFault =
    env.COMMIT_FAULT === undefined || env.COMMIT_FAULT === "" ? undefined : env.COMMIT_FAULT;
  if (commitFault !== undefined && commitFault !== "exit_before_commit") {
    throw new ConfigError(
      `COMMIT_FAULT expected exit_before_commit or nothing, got ${JSON.stringify(commitFault)}`,
    );
  }
  if (commitFault !== undefined && mode === "production") {
    throw new ConfigError("COMMIT_FAULT is a test-only fault injection and is refused in production");
  }
  return {
    env: mode,
    databaseUrl,
    embeddedPostgresPort: int(env, "EMBEDDED_POSTGRES_PORT", 0, 0, 65535),
    dataDir: env.DATA_DIR ?? ".data",
    host: env.HOST ?? "127.0.0.1",
    port: int(env, "PORT", 50051, 0, 65535),
    sequencerId: sequencerId?.toLowerCase(),
    signingSeed,
    signingKeyId: env.SEQUENCER_KEY_ID === "" ? undefined : env.SEQUENCER_KEY_ID,
    maxEventsPerBatch: int(env, "MAX_EVENTS_PER_BATCH", 1000, 1, 100_000),
    maxPayloadBytes: int(env, "MAX_PAYLOAD_BYTES", 1024 * 1024, 1, 64 * 1024 * 1024),
    maxMessageBytes: int(env, "MAX_MESSAGE_BYTES", 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxInFlightBatches: int(env, "MAX_IN_FLIGHT_BATCHES", 4, 1, 1024),
    maxConcurrentBatches: int(env, "MAX_CONCURRENT_BATCHES", 64, 1, 100_000),
    maxConcurrentBatchesPerTenant: int(env, "MAX_CONCURRENT_BATCHES_PER_TENANT", 16, 1, 100_000),
    maxConnections: int(env, "MAX_CONNECTIONS", 1024, 0, 1_000_000),
    connectionIdleTimeoutMs: int(env, "CONNECTION_IDLE_TIMEOUT_MS", 300_000, 0, 86_400_000),
    appendIdleTimeoutMs: int(env, "APPEND_IDLE_TIMEOUT_MS", 300_000, 0, 86_400_000),
    keepAliveIntervalMs: int(env, "KEEPALIVE_INTERVAL_MS", 60_000, 0, 86_400_000),
    keepAliveTimeoutMs: int(env, "KEEPALIVE_TIMEOUT_MS", 20_000, 1, 3_600_000),
    dbPoolMax: int(env, "DB_POOL_MAX", 16, 1, 1000),
    dbQueueMax: int(env, "DB_QUEUE_MAX", 256, 0, 1_000_000),
    dbQueueTimeoutMs: int(env, "DB_QUEUE_TIMEOUT_MS", 5000, 1, 3_600_000),
    dbStatementTimeoutMs: int(env, "DB_STATEMENT_TIMEOUT_MS", 30_000, 0, 86_400_000),
    dbLockTimeoutMs: int(env, "DB_LOCK_TIMEOUT_MS", 10_000, 0, 86_400_000),
    dbIdleInTransactionTimeoutMs: int(env, "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000, 0, 86_400_000),
    dbConnectAttempts: int(env, "DB_CONNECT_ATTEMPTS", 5, 1, 100),
    dbConnectTimeoutMs: int(env, "DB_CONNECT_TIMEOUT_MS", 5_000, 100, 600_000),
    databaseReadUrls,
    replicaMaxLagMs: int(env, "REPLICA_MAX_LAG_MS", 5000, 1, 3_600_000),
    replicaWaitMs: int(env, "REPLICA_WAIT_MS", 200, 0, 60_000),
    replicaCheckMs: int(env, "REPLICA_CHECK_MS", 1000, 10, 3_600_000),
    cryptoWorkers: int(env, "CRYPTO_WORKERS", Math.max(1, os.availableParallelism()), 1, 256),
    logLevel: logLevel as Config["logLevel"],
    logFormat,
    otelTracing: otlpEndpoint !== "" && !otelDisabled && env.OTEL_TRACES_EXPORTER !== "none",
    shutdownTimeoutMs: int(env, "SHUTDOWN_TIMEOUT_MS", 15_000, 0, 3_600_000),
    migrateOnStart: bool(env, "MIGRATE_ON_START", true),
    subscriberBufferEvents: int(env, "SUBSCRIBER_BUFFER_EVENTS", 4096, 1, 10_000_000),
    subscriberMaxLagEvents: int(env, "SUBSCRIBER_MAX_LAG_EVENTS", 100_000, 1, Number.MAX_SAFE_INTEGER),
    subscriberMax: int(env, "SUBSCRIBER_MAX", 10_000, 1, 1_000_000),
    subscribeHeartbeatDefaultMs: int(env, "SUBSCRIBE_HEARTBEAT_DEFAULT_MS", 15_000, 0, 3_600_000),
    subscribeHeartbeatMinMs: int(env, "SUBSCRIBE_HEARTBEAT_MIN_MS", 250, 1, 3_600_000),
    subscribePollIntervalMs: int(env, "SUBSCRIBE_POLL_INTERVAL_MS", 1000, 10, 3_600_000),
    commitFeedCheckMs: int(env, "COMMIT_FEED_CHECK_MS", 10_000, 100, 3_600_000),
    commitWorker: bool(env, "COMMIT_WORKER", true),
    // A commitment's tree is padded to a power of two and stored whole: 65,536 leaves is 4 MiB of nodes.
    commitMaxEvents: int(env, "COMMIT_MAX_EVENTS", 1024, 1, 65_536),
    commitMaxAgeMs: int(env, "COMMIT_MAX_AGE_MS", 500, 1, 3_600_000),
    commitPollMs: int(env, "COMMIT_POLL_MS", 100, 1, 60_000),
    commitConcurrency: int(env, "COMMIT_CONCURRENCY", 1, 1, 64),
    proofTreeCacheBytes: int(env, "PROOF_TREE_CACHE_MB", 64, 0, 65_536) * 1024 * 1024,
    commitFault,
    auth,
    anchor: readAnchorConfig(env, mode),
  };
}

function readAnchorConfig(env: NodeJS.ProcessEnv, mode: Environment): AnchorConfig | undefined {
  const str = (name: string): string | undefined =>
    env[name] === undefined || env[name] === "" ? undefined : env[name];
  const devAnvil = bool(env, "ANCHOR_DEV_ANVIL", false);
  const rpcUrl = str("ANCHOR_RPC_URL");
  if (devAnvil && mode === "production") {
    throw new ConfigError("ANCHOR_DEV_ANVIL is for development and is refused in production");
  }
  if (devAnvil && rpcUrl !== undefined) {
    throw new ConfigError("ANCHOR_DEV_ANVIL and ANCHOR_RPC_URL exclude each other: set one");
  }
  if (!devAnvil && rpcUrl === undefined) {
    for (const name of ["ANCHOR_CHAIN_ID", "ANCHOR_CONTRACT_ADDRESS", "ANCHOR_SUBMITTER_KEY"]) {
      if (str(name) !== undefined)
        throw new ConfigError(`${name} is set but ANCHOR_RPC_URL is not: set both`);
    }
    return undefined;
  }
  let chainId: number | undefined;
  let contractAddress: `0x${string}` | undefined;
  let submitterKey: (() => `0x${string}`) | undefined;
  if (rpcUrl !== undefined) {
    if (!/^https?:\/\//.test(rpcUrl))
      throw new ConfigError("ANCHOR_RPC_URL expected an http:// or https:// URL");
    for (const name of ["ANCHOR_CHAIN_ID", "ANCHOR_CONTRACT_ADDRESS", "ANCHOR_SUBMITTER_KEY"]) {
      if (str(name) === undefined) throw new ConfigError(`${name} is required when ANCHOR_RPC_URL is set`);
    }
    chainId = int(env, "ANCHOR_CHAIN_ID", 0, 1, 2 ** 48);
    const address = str("ANCHOR_CONTRACT_ADDRESS") as string;
    if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
      throw new ConfigError(
        `ANCHOR_CONTRACT_ADDRESS expected 0x and 40 hex characters, got ${JSON.stringify(address)}`,
      );
    }
    contractAddress = address.toLowerCase() as `0x${string}`;
    const key = str("ANCHOR_SUBMITTER_KEY") as string;
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
      // The value is a secret: only its length is reported.
      throw new ConfigError(
        `ANCHOR_SUBMITTER_KEY expected 0x and 64 hex characters, got ${key.length} characters`,
      );
    }
    const k = key.toLowerCase() as `0x${string}`;
    submitterKey = () => k;
  }
  return {
    devAnvil,
    rpcUrl,
    chainId,
    contractAddress,
    submitterKey,
    confirmations: int(env, "ANCHOR_CONFIRMATIONS", 6, 1, 10_000),
    intervalMs: int(env, "ANCHOR_INTERVAL_MS", 5000, 10, 3_600_000),
    batchMax: int(env, "ANCHOR_BATCH_MAX", 32, 1, 1000),
    maxGas: BigInt(int(env, "ANCHOR_MAX_GAS", 5_000_000, 100_000, 1_000_000_000)),
    slowRetryMs: int(env, "ANCHOR_SLOW_RETRY_MS", 60_000, 10, 86_400_000),
    leaderPollMs: int(env, "ANCHOR_LEADER_POLL_MS", 1000, 10, 60_000),
    replaceAfterMs: int(env, "ANCHOR_REPLACE_AFTER_MS", 30_000, 10, 86_400_000),
    maxFeePerGas: gwei(env, "ANCHOR_MAX_FEE_GWEI", "500"),
    upgradeDrainMs: int(env, "ANCHOR_UPGRADE_DRAIN_MS", 120_000, 0, 3_600_000),
    fault: readAnchorFault(str("ANCHOR_FAULT"), mode),
  };
}

function readAnchorFault(raw: string | undefined, mode: Environment): "exit_after_send" | undefined {
  if (raw === undefined) return undefined;
  if (raw !== "exit_after_send") {
    throw new ConfigError(`ANCHOR_FAULT expected exit_after_send or nothing, got ${JSON.stringify(raw)}`);
  }
  if (mode === "production")
    throw new ConfigError("ANCHOR_FAULT is a test-only fault injection and is refused in production");
  return raw;
}

const MIN_SECRET_BYTES = 32;

function readAuthConfig(env: NodeJS.ProcessEnv, mode: Environment, rawEnv: string): AuthConfig {
  const authMode = env.AUTH_MODE === undefined || env.AUTH_MODE === "" ? "required" : env.AUTH_MODE;
  if (authMode !== "required" && authMode !== "disabled") {
    throw new ConfigError(`AUTH_MODE expected required or disabled, got ${JSON.stringify(authMode)}`);
  }
  if (authMode === "disabled" && mode === "production") {
    throw new ConfigError(
      `AUTH_MODE=disabled is refused because SEQUENCER_ENV=${rawEnv} counts as production; it is allowed only with SEQUENCER_ENV=development or test`,
    );
  }
  const rawSecret = env.JWT_SECRET === undefined || env.JWT_SECRET === "" ? undefined : env.JWT_SECRET;
  const jwtSecret = rawSecret === undefined ? undefined : new TextEncoder().encode(rawSecret);
  if (jwtSecret !== undefined && mode === "production" && jwtSecret.length < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `JWT_SECRET expected at least ${MIN_SECRET_BYTES} bytes in production, got ${jwtSecret.length}`,
    );
  }
  const bootstrap =
    env.BOOTSTRAP_ADMIN_API_KEY === undefined || env.BOOTSTRAP_ADMIN_API_KEY === ""
      ? undefined
      : env.BOOTSTRAP_ADMIN_API_KEY;
  if (bootstrap !== undefined && mode === "production" && bootstrap.length < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `BOOTSTRAP_ADMIN_API_KEY expected at least ${MIN_SECRET_BYTES} characters in production, got ${bootstrap.length}`,
    );
  }
  if (bootstrap !== undefined && /\s/.test(bootstrap)) {
    throw new ConfigError("BOOTSTRAP_ADMIN_API_KEY expected no whitespace (it is sent in a header)");
  }
  const metrics =
    env.METRICS_API_KEY === undefined || env.METRICS_API_KEY === "" ? undefined : env.METRICS_API_KEY;
  if (metrics !== undefined && mode === "production" && metrics.length < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `METRICS_API_KEY expected at least ${MIN_SECRET_BYTES} characters in production, got ${metrics.length}`,
    );
  }
  if (metrics !== undefined && /\s/.test(metrics)) {
    throw new ConfigError("METRICS_API_KEY expected no whitespace (it is sent in a header)");
  }
  if (metrics !== undefined && metrics === bootstrap) {
    throw new ConfigError(
      "METRICS_API_KEY expected a credential of its own, got the same value as BOOTSTRAP_ADMIN_API_KEY",
    );
  }
  return {
    mode: authMode,
    jwtSecret,
    jwtIssuer: env.JWT_ISSUER === undefined || env.JWT_ISSUER === "" ? "ves-sequencer" : env.JWT_ISSUER,
    jwtAudience: env.JWT_AUDIENCE === undefined || env.JWT_AUDIENCE === "" ? "ves-api" : env.JWT_AUDIENCE,
    bootstrapAdminKey: bootstrap,
    metricsApiKey: metrics,
    cacheTtlMs: int(env, "AUTH_CACHE_TTL_MS", 1000, 0, 60_000),
  };
}
