// Migrations: applied once even when several instances start together, recorded with checksums, and an
// edited, already-applied file is refused.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql } from "../src/infra/pg/createSql.js";
import { migrate, readMigrations } from "../src/infra/pg/migrate.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { REPO_ROOT } from "./support/sequencer.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe("migrate", () => {
  it("applies every migration exactly once when four instances race", async () => {
    const migrations = await readMigrations(path.join(REPO_ROOT, "migrations"));
    const clients = Array.from({ length: 4 }, () => createSql(db.url, { max: 1 }));
    try {
      const results = await Promise.all(clients.map((sql) => migrate(sql, migrations)));
      expect(results.flat().sort()).toEqual(migrations.map((m) => m.version));
      expect(results.filter((r) => r.length > 0)).toHaveLength(1);
      const sql = clients[0] as postgres.Sql;
      const rows = await sql<
        { version: number; checksum: string }[]
      >`select version, checksum from schema_migrations order by version`;
      expect(rows).toEqual(migrations.map((m) => ({ version: m.version, checksum: m.checksum })));
      expect(await migrate(sql, migrations)).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
    }
  });

  it("refuses to run when an applied migration was edited", async () => {
    const migrations = await readMigrations(path.join(REPO_ROOT, "migrations"));
    const edited = migrations.map((m, i) => (i === 0 ? { ...m, checksum: "0".repeat(64) } : m));
    const sql = createSql(db.url, { max: 1 });
    try {
      await expect(migrate(sql, edited)).rejects.toThrow(/was edited after it was applied/);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it("accepts gaps in the numbering (numbers reserved by other branches) but not repeats", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ves-migrations-"));
    try {
      writeFileSync(path.join(dir, "001_a.sql"), "select 1;");
      writeFileSync(path.join(dir, "003_c.sql"), "select 3;");
      expect((await readMigrations(dir)).map((m) => m.version)).toEqual([1, 3]);
      writeFileSync(path.join(dir, "003_d.sql"), "select 4;");
      await expect(readMigrations(dir)).rejects.toThrow(
        /increase from 1 without repeats, got 3 \(d\) after 3/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
