// Forward-only SQL migrations from migrations/, applied in one transaction under an advisory lock so that
// instances starting together apply each file exactly once.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Sql } from "postgres";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

const FILE = /^(\d+)_([a-z0-9_]+)\.sql$/;
// Any constant works; it only has to be the same for every instance.
const LOCK_KEY = 0x7665735f6d6967n; // "ves_mig"

export async function readMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const m = FILE.exec(file);
    if (m === null) throw new Error(`migration file name ${JSON.stringify(file)} expected NNN_name.sql`);
    const sql = await readFile(path.join(dir, file), "utf8");
    migrations.push({
      version: Number(m[1]),
      name: m[2] as string,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  // Versions strictly increase; gaps are allowed, because concurrent branches reserve numbers before they
  // land (a missing number is applied whenever its file arrives).
  for (const [i, m] of migrations.entries()) {
    const prev = migrations[i - 1];
    if (m.version < 1 || (prev !== undefined && m.version <= prev.version)) {
      throw new Error(
        `migrations expected versions to increase from 1 without repeats, got ${m.version} (${m.name}) after ${prev?.version ?? "none"}`,
      );
    }
  }
  return migrations;
}

/** Applies pending migrations; returns the versions applied now. Fails if an applied file was edited. */
export async function migrate(sql: Sql, migrations: readonly Migration[]): Promise<number[]> {
  return sql.begin(async (tx) => {
    // Exempt from the pool's session limits: a migration may rewrite a large table, and an instance starting
    // beside another waits here for the other's migrations to finish.
    await tx`set local statement_timeout = 0`;
    await tx`set local lock_timeout = 0`;
    await tx`select pg_advisory_xact_lock(${LOCK_KEY.toString()}::bigint)`;
    await tx`
      create table if not exists schema_migrations (
        version     integer     primary key,
        name        text        not null,
        checksum    text        not null,
        applied_at  timestamptz not null default now()
      )`;
    const applied = new Map<number, string>();
    for (const row of await tx<
      { version: number; checksum: string }[]
    >`select version, checksum from schema_migrations`) {
      applied.set(row.version, row.checksum);
    }
    const done: number[] = [];
    for (const m of migrations) {
      const checksum = applied.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new Error(
            `migration ${m.version}_${m.name} was edited after it was applied (forward-only: add a new migration instead)`,
          );
        }
        continue;
      }
      await tx.unsafe(m.sql);
      await tx`insert into schema_migrations (version, name, checksum) values (${m.version}, ${m.name}, ${m.checksum})`;
      done.push(m.version);
    }
    return done;
  });
}
