// npm run migrate: applies pending migrations to DATABASE_URL (or to the embedded database in DATA_DIR).
import path from "node:path";
import { ConfigError, readConfig } from "../config.js";
import { createSql, redactUrl } from "../infra/pg/createSql.js";
import { startEmbeddedPostgres } from "../infra/pg/embeddedPostgres.js";
import { migrate, readMigrations } from "../infra/pg/migrate.js";
import { MIGRATIONS_DIR } from "../main.js";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(
    [
      "npm run migrate: apply pending SQL migrations (migrations/NNN_name.sql, forward-only) and exit.",
      "",
      "  DATABASE_URL  the PostgreSQL to migrate; unset: the embedded database in DATA_DIR/pglite",
      "  DATA_DIR      default .data",
      "",
      "The server also applies them at start-up (MIGRATE_ON_START=true). Instances starting together are safe:",
      "migrations run in one transaction under an advisory lock, and each is recorded in schema_migrations.",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

try {
  const config = readConfig();
  const embedded =
    config.databaseUrl === undefined
      ? await startEmbeddedPostgres(path.resolve(config.dataDir, "pglite"), 2)
      : undefined;
  const url = config.databaseUrl ?? (embedded?.url as string);
  const sql = createSql(url, { max: 1 });
  try {
    const migrations = await readMigrations(MIGRATIONS_DIR);
    const applied = await migrate(sql, migrations);
    process.stdout.write(
      `${redactUrl(url)}${embedded ? ` (embedded, ${config.dataDir})` : ""}: ` +
        (applied.length === 0
          ? `up to date at version ${migrations.at(-1)?.version ?? 0}\n`
          : `applied ${applied.map((v) => migrations.find((m) => m.version === v)?.name).join(", ")}; now at version ${migrations.at(-1)?.version ?? 0}\n`),
    );
  } finally {
    await sql.end({ timeout: 5 });
    await embedded?.stop();
  }
} catch (err) {
  process.stderr.write(
    `migrate failed: ${err instanceof ConfigError ? err.message : (err as Error).stack}\n`,
  );
  process.exit(1);
}
