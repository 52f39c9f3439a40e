// npm run migrate: applies pending migrations to DATABASE_URL (or to the embedded database in DATA_DIR).
import pino from "pino";
import { connectDatabase } from "../compose/database.js";
import { ConfigError, readConfig } from "../config.js";
import { migrate, readMigrations } from "../infra/pg/migrate.js";
import { StartupError } from "../infra/startupError.js";
import { MIGRATIONS_DIR } from "../main.js";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(
    [
      "npm run migrate: apply pending SQL migrations (migrations/NNN_name.sql, forward-only) and exit.",
      "",
      "  DATABASE_URL  the PostgreSQL to migrate; unset: the embedded database in DATA_DIR/postgres",
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
  const db = await connectDatabase(config, pino({ level: "warn" }), { max: 1, bounded: false });
  try {
    const migrations = await readMigrations(MIGRATIONS_DIR);
    const applied = await migrate(db.sql, migrations);
    process.stdout.write(
      `${db.url}${db.embedded ? ` (embedded, ${db.embedded.clusterDir})` : ""}: ` +
        (applied.length === 0
          ? `up to date at version ${migrations.at(-1)?.version ?? 0}\n`
          : `applied ${applied.map((v) => migrations.find((m) => m.version === v)?.name).join(", ")}; now at version ${migrations.at(-1)?.version ?? 0}\n`),
    );
  } finally {
    await db.stop();
  }
} catch (err) {
  process.stderr.write(
    `migrate failed: ${err instanceof ConfigError || err instanceof StartupError ? err.message : (err as Error).stack}\n`,
  );
  process.exit(1);
}
