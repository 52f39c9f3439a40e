// The database step of the composition root: the configured PostgreSQL (or the embedded one), the pool, and
// the migrations.
import path from "node:path";
import type { Logger } from "pino";
import type { Sql } from "postgres";
import type { Config } from "../config.js";
import { createSql, redactUrl } from "../infra/pg/createSql.js";
import { startEmbeddedPostgres } from "../infra/pg/embeddedPostgres.js";
import { migrate, readMigrations } from "../infra/pg/migrate.js";
import type { StopStack } from "./stopStack.js";

export interface Database {
  readonly sql: Sql;
  /** The URL the pool connects to (the embedded server's when DATABASE_URL is unset). */
  readonly url: string;
  /** True when DATABASE_URL was unset and the embedded PostgreSQL serves this instance. */
  readonly embedded: boolean;
}

export async function openDatabase(
  config: Config,
  migrationsDir: string,
  log: Logger,
  stack: StopStack,
): Promise<Database> {
  let databaseUrl = config.databaseUrl;
  if (databaseUrl === undefined) {
    const dir = path.resolve(config.dataDir, "pglite");
    const embedded = await startEmbeddedPostgres(dir, config.dbPoolMax + 2);
    stack.defer(() => embedded.stop());
    databaseUrl = embedded.url;
    log.info(
      { dataDir: dir, url: databaseUrl },
      "DATABASE_URL is unset: running on an embedded PostgreSQL (PGlite) persisted in the data directory; set DATABASE_URL for production",
    );
  } else {
    log.info({ url: redactUrl(databaseUrl) }, "using PostgreSQL");
  }
  const sql: Sql = createSql(databaseUrl, {
    max: config.dbPoolMax,
    connectTimeoutSeconds: config.dbConnectTimeoutMs / 1000,
  });
  stack.defer(() => sql.end({ timeout: 5 }));

  if (config.migrateOnStart) {
    const applied = await migrate(sql, await readMigrations(migrationsDir));
    log.info({ applied }, applied.length === 0 ? "schema is up to date" : "applied migrations");
  }
  return { sql, url: databaseUrl, embedded: config.databaseUrl === undefined };
}
