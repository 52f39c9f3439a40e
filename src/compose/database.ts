// The database step of the composition root: the embedded PostgreSQL when DATABASE_URL is unset, the pool with
// its session limits and wait bound, and a start-up wait for the server to answer.
import type { Logger } from "pino";
import type { Sql } from "postgres";
import type { Config } from "../config.js";
import { createSql, redactUrl } from "../infra/pg/createSql.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../infra/pg/embeddedPostgres.js";
import { waitForDatabase } from "../infra/pg/waitForDatabase.js";

export interface Database {
  readonly sql: Sql;
  /** The connection URL without its password. */
  readonly url: string;
  readonly embedded: EmbeddedPostgres | undefined;
  /** Closes the pool, then stops the embedded server (if any). */
  stop(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Pool size; default config.dbPoolMax. */
  readonly max?: number;
  /** Refuse work past the wait bound (DB_QUEUE_MAX / DB_QUEUE_TIMEOUT_MS); default true. */
  readonly bounded?: boolean;
}

export async function openDatabase(
  config: Config,
  log: Logger,
  options: OpenDatabaseOptions = {},
): Promise<Database> {
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
  return { sql, url: redactUrl(url), embedded, stop };
}
