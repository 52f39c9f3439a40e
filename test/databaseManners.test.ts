// How the server treats its database: session time limits on every pool connection (migrations exempt), a
// bounded wait for a connection (past it, new work fails at once with UNAVAILABLE and a retry hint instead of
// queueing without limit), and a clear, retried, one-line failure when PostgreSQL is unreachable at start-up.
import { spawn } from "node:child_process";
import net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { DomainError } from "../src/domain/errors.js";
import { createSql, redactUrl } from "../src/infra/pg/createSql.js";
import { migrate, readMigrations } from "../src/infra/pg/migrate.js";
import { waitForDatabase } from "../src/infra/pg/waitForDatabase.js";
import { StartupError } from "../src/infra/startupError.js";
import { MIGRATIONS_DIR, type Sequencer } from "../src/main.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { REPO_ROOT, startTestSequencer, testTransport } from "./support/sequencer.js";

// migrate.ts's advisory lock key ("ves_mig").
const MIGRATION_LOCK_KEY = String(0x7665735f6d6967n);

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a refusal");
    },
    (err: unknown) => err,
  );
}

describe("pool sessions", () => {
  it("carry statement_timeout, lock_timeout and idle_in_transaction_session_timeout", async () => {
    const sql = createSql(db.url, {
      max: 1,
      statementTimeoutMs: 150,
      lockTimeoutMs: 250,
      idleInTransactionTimeoutMs: 60_000,
    });
    try {
      const [row] =
        await sql`select current_setting('statement_timeout') as s, current_setting('lock_timeout') as l,
        current_setting('idle_in_transaction_session_timeout') as i`;
      expect(row).toEqual({ s: "150ms", l: "250ms", i: "1min" });
      const err = await refusal(sql`select pg_sleep(2)`);
      expect((err as { code?: string }).code).toBe("57014");
      // Migrations are exempt: they may run long and wait for another instance's migrations (here: a holder of
      // the migration lock for longer than lock_timeout).
      const other = postgres(db.url, { max: 1, onnotice: () => {} });
      const held = await other.reserve();
      await held`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`;
      const t0 = Date.now();
      setTimeout(() => held`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`.execute(), 600);
      expect(await migrate(sql, await readMigrations(MIGRATIONS_DIR))).not.toEqual([]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
      held.release();
      await other.end({ timeout: 1 });
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it("end a transaction left idle by a stuck client", async () => {
    const sql = createSql(db.url, { max: 1, idleInTransactionTimeoutMs: 200 });
    try {
      const err = await refusal(
        sql.begin(async (tx) => {
          await tx`select 1`;
          await new Promise((r) => setTimeout(r, 600));
          await tx`select 1`;
        }),
      );
      expect(String((err as Error).message)).toMatch(
        /idle-in-transaction timeout|CONNECTION_CLOSED|terminat/i,
      );
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe("a bounded wait for pool connections", () => {
  it("runs at most max transactions, lets queueMax wait for queueTimeoutMs, and refuses the rest at once", async () => {
    const sql = createSql(db.url, { max: 2, queue: { max: 1, timeoutMs: 300 } });
    try {
      const t0 = Date.now();
      const sleeping = [1, 2].map(() => sql.begin((tx) => tx`select pg_sleep(1)`));
      const waiting = refusal(sql.begin((tx) => tx`select 1 as waited`));
      await new Promise((r) => setTimeout(r, 50));
      const refused = (await refusal(sql.begin((tx) => tx`select 1 as refused`))) as DomainError;
      expect(Date.now() - t0).toBeLessThan(250);
      expect(refused).toBeInstanceOf(DomainError);
      expect(refused.reason).toBe("unavailable");
      expect(refused.retryAfterMs).toBe(1000);
      expect(refused.message).toMatch(
        /the database is saturated \(2 transactions on 2 connections, .* 1 waiting\)/,
      );
      const timedOut = (await waiting) as DomainError;
      expect(timedOut.reason).toBe("unavailable");
      expect(timedOut.message).toMatch(/no connection became free within 300 ms/);
      expect(Date.now() - t0).toBeLessThan(900);
      // A plain query is admitted (it pipelines) and runs once a connection is free.
      const [plain] = await sql`select 7 as n`;
      expect(plain?.n).toBe(7);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      await Promise.all(sleeping);
      // Permits come back when the work ends: transactions run again.
      const again = await Promise.all([1, 2, 3].map((n) => sql.begin((tx) => tx`select ${n}::int as n`)));
      expect(again.map((r) => r[0]?.n)).toEqual([1, 2, 3]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  describe("through the server", () => {
    let server: Sequencer;
    let holder: postgres.Sql;
    beforeAll(async () => {
      server = await startTestSequencer(db.url, {
        DB_POOL_MAX: "2",
        DB_QUEUE_MAX: "1",
        DB_QUEUE_TIMEOUT_MS: "300",
        DB_LOCK_TIMEOUT_MS: "0",
        COMMIT_WORKER: "false",
      });
      holder = postgres(db.url, { max: 2, onnotice: () => {} });
    });
    afterAll(async () => {
      await server?.stop();
      await holder?.end({ timeout: 1 });
    });

    it("answers UNAVAILABLE with a retry hint promptly while both connections are held", async () => {
      const keys = createClient(KeyRegistryService, testTransport(server.url));
      const reserved = await holder.reserve();
      let blocked: Promise<unknown>[] = [];
      try {
        await reserved`begin`;
        await reserved`lock table agent_keys in access exclusive mode`;
        // Two registrations (transactions) take the pool's two connections and wait on the lock.
        blocked = [1, 2].map(() => registerAgent(keys, createAgent()));
        const deadline = Date.now() + 10_000;
        for (;;) {
          const [row] = await holder`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and application_name = 'ves-sequencer' and wait_event_type = 'Lock'`;
          if (row?.n === 2) break;
          if (Date.now() > deadline) throw new Error("the two calls never waited on the lock");
          await new Promise((r) => setTimeout(r, 20));
        }
        const t0 = Date.now();
        const err = ConnectError.from(await refusal(registerAgent(keys, createAgent())));
        const ms = Date.now() - t0;
        expect(err.code).toBe(Code.Unavailable);
        expect(err.rawMessage).toMatch(/the database is saturated/);
        expect(err.findDetails(ErrorDetailSchema)[0]?.retryAfterMs).toBe(1000n);
        expect(err.metadata.get("retry-after")).toBe("1");
        expect(ms).toBeLessThan(2000);
      } finally {
        await reserved`rollback`;
        reserved.release();
      }
      // Once the lock is gone the held calls finish normally.
      const answers = await Promise.all(blocked);
      expect(answers).toHaveLength(2);
    });
  });
});

describe("PostgreSQL unreachable at start-up", () => {
  it("retries with a one-line message each time, then exits non-zero with one line and no stack", async () => {
    const probe = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => probe.once("listening", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        SEQUENCER_ENV: "test",
        DATABASE_URL: `postgres://ves:secret@127.0.0.1:${port}/ves`,
        DB_CONNECT_ATTEMPTS: "2",
        PORT: "0",
        BOOTSTRAP_ADMIN_API_KEY: "k".repeat(40),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    expect(out).toContain(
      `cannot reach PostgreSQL at postgres://ves:***@127.0.0.1:${port}/ves (ECONNREFUSED); retrying in 1 s (2/2)`,
    );
    expect(err).toBe(
      `failed to start: cannot reach PostgreSQL at postgres://ves:***@127.0.0.1:${port}/ves (ECONNREFUSED) after 2 attempts; is it running, and is DATABASE_URL right?\n`,
    );
    expect(out + err).not.toContain("secret");
    expect(code).toBe(1);
  });

  it("does not retry what retrying cannot fix (a missing database)", async () => {
    const url = new URL(db.url);
    url.pathname = "/ves_no_such_database";
    const sql = createSql(url.toString(), { max: 1 });
    const retries: string[] = [];
    try {
      const err = await refusal(
        waitForDatabase(sql, url.toString(), { attempts: 3, onRetry: (l) => retries.push(l) }),
      );
      expect(err).toBeInstanceOf(StartupError);
      expect((err as Error).message).toBe(
        `PostgreSQL at ${redactUrl(url.toString())} refused the connection: database "ves_no_such_database" does not exist (3D000)`,
      );
      expect(retries).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
