// The database step of the composition root: the embedded PostgreSQL when DATABASE_URL is unset, the pool with
// its session limits and wait bound, a start-up wait for the server to answer, and the migrations.
import type { Logger } from "pino";
import type { Sql } from "postgres";
import type { Config } from "../config.js";
import { createSql, redactUrl } from "../infra/pg/createSql.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../infra/pg/embeddedPostgres.js";
import { migrate, readMigrations } from "../infra/pg/migrate.js";
import { waitForDatabase } from "../infra/pg/waitForDatabase.js";
import type { StopStack } from "./stopStack.js";

export interface Database {
  readonly sql: Sql;
  /** The URL the pool connects to (the embedded server's when DATABASE_URL is unset). */
  readonly url: string;
  /** True when DATABASE_URL was unset and the embedded PostgreSQL serves this instance. */
  readonly embedded: boolean;
}

/** The server's database: connected, migrated (MIGRATE_ON_START), its shutdown registered on `stack`. */
export async function openDatabase(
  config: Config,
  migrationsDir: string,
  log: Logger,
  stack: StopStack,
): Promise<Database> {
  const connection = await connectDatabase(config, log);
  stack.defer(() => connection.stop());
  const { sql } = connection;
  if (config.migrateOnStart) {
    const applied = await migrate(sql, await readMigrations(migrationsDir));
    log.info({ applied }, applied.length === 0 ? "schema is up to date" : "applied migrations");
  }
  return { sql, url: connection.connectUrl, embedded: connection.embedded !== undefined };
}

export interface DatabaseConnection {
  readonly sql: Sql;
  /** The connection URL without its password. */
  readonly url: string;
  /** The connection URL as the pool uses it (with the embedded server's password): never log it. */
  readonly connectUrl: string;
  readonly embedded: EmbeddedPostgres | undefined;
  /** Closes the pool, then stops the embedded server (if any). */
  stop(): Promise<void>;
}

export interface ConnectDatabaseOptions {
  /** Pool size; default config.dbPoolMax. */
  readonly max?: number;
  /** Refuse work past the wait bound (DB_QUEUE_MAX / DB_QUEUE_TIMEOUT_MS); default true. */
  readonly bounded?: boolean;
}

/** Starts the embedded server if DATABASE_URL is unset, opens the pool, and waits until PostgreSQL answers. */
export async function connectDatabase(
  config: Config,
  log: Logger,
  options: ConnectDatabaseOptions = {},
): Promise<DatabaseConnection> {
  let url = config.databaseUrl;
  let embedded: EmbeddedPostgres | undefined;
  if (url === undefined) {
    const started = Date.now();
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort });
    url = embedded.url;
    log.info(
      {
        dataDir: embedded.clusterDir,
        url: redactUrl(url),
        created: embedded.created,
        ms: Date.now() - started,
      },
      "DATABASE_URL is unset: started an embedded PostgreSQL in the data directory (development only; production needs DATABASE_URL)",
    );
  } else {
    log.info({ url: redactUrl(url) }, "using PostgreSQL");
  }
  const max = options.max ?? config.dbPoolMax;
  const sql = createSql(url, {
    max,
    connectTimeoutSeconds: config.dbConnectTimeoutMs / 1000,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    lockTimeoutMs: config.dbLockTimeoutMs,
    idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
    ...(options.bounded === false
      ? {}
      : { queue: { max: config.dbQueueMax, timeoutMs: config.dbQueueTimeoutMs } }),
  });
  const stop = async (): Promise<void> => {
    await sql.end({ timeout: 5 });
    await embedded?.stop();
  };
  try {
    await waitForDatabase(sql, url, {
      attempts: config.dbConnectAttempts,
      onRetry: (line) => log.warn(line),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { sql, url: redactUrl(url), connectUrl: url, embedded, stop };
}
