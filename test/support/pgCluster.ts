// Throwaway PostgreSQL 15 clusters for tests: the one way tests start a cluster of their own. A primary
// (wal_level=replica), optionally hot standbys made with pg_basebackup -R, on free ports on 127.0.0.1 with unix
// sockets in a temp dir, run as the `postgres` user when the tests run as root. Stop, restart, SIGKILL, promote,
// pause and resume replay; destroy() stops and removes everything. Never touches the machine's own cluster.
import { execFile } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";

const run = promisify(execFile);

/** The PostgreSQL server binaries: $PG_BIN (or $PG_BIN_DIR), else Debian's PostgreSQL 15. */
export const PG_BIN = process.env.PG_BIN ?? process.env.PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";

/** True when the PostgreSQL server binaries these clusters need are installed. */
export function hasPgBinaries(): boolean {
  return ["initdb", "pg_ctl", "pg_basebackup", "postgres"].every((b) => existsSync(path.join(PG_BIN, b)));
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root (initdb and postgres refuse root). */
async function pg(bin: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const file = path.join(PG_BIN, bin);
  const { stdout } = asRoot
    ? await run("runuser", ["-u", "postgres", "--", file, ...args], { timeout: timeoutMs })
    : await run(file, [...args], { timeout: timeoutMs });
  return stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function chownToPostgres(p: string): void {
  if (!asRoot) return;
  // uid/gid of postgres from /etc/passwd (no shell-out per directory).
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (line === undefined)
    throw new Error("running as root, but there is no postgres user to run PostgreSQL as");
  const [, , uid, gid] = line.split(":");
  chownSync(p, Number(uid), Number(gid));
}

export interface PgNode {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  /** postgres://postgres@127.0.0.1:<port>/<db> */
  url(db?: string): string;
  /** A small postgres.js client for the test's own queries (closed by destroy()). */
  readonly admin: postgres.Sql;
  start(): Promise<void>;
  /** pg_ctl stop -m fast (no-op when not running). */
  stop(): Promise<void>;
  /** pg_ctl restart -m fast: every backend terminated (57P01), then started again; `admin` reconnects. */
  restart(): Promise<void>;
  /** SIGKILL the postmaster (and so every backend): a crash, no shutdown checkpoint. */
  kill(): Promise<void>;
  promote(): Promise<void>;
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** pg_last_wal_replay_lsn() on a standby, pg_current_wal_lsn() on a primary. */
  lsn(): Promise<string>;
  isRunning(): boolean;
}

export interface PgClusterOptions {
  /**
   * synchronous_standby_names on the primary, e.g. '*' or 'FIRST 1 (standby1)', set once the first standby runs
   * (ALTER SYSTEM; standbys do not inherit it); unset: asynchronous.
   */
  readonly synchronousStandbyNames?: string;
  /** synchronous_commit on the primary: on (default) or remote_apply. */
  readonly synchronousCommit?: "on" | "remote_apply" | "remote_write" | "local" | "off";
  /** Extra postgresql.conf lines for every node. */
  readonly extraConf?: readonly string[];
}

export interface PgCluster {
  readonly dir: string;
  readonly primary: PgNode;
  readonly standbys: PgNode[];
  /** pg_basebackup -R from the primary into a new hot standby named `name` (its application_name), started. */
  addStandby(name: string): Promise<PgNode>;
  /** Waits until every standby has replayed the primary's current WAL position. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the directory. Safe to call twice. */
  destroy(): Promise<void>;
}

function baseConf(port: number, sockDir: string, opts: PgClusterOptions): string[] {
  return [
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${sockDir}'`,
    "wal_level = replica",
    "max_wal_senders = 10",
    "max_replication_slots = 10",
    "hot_standby = on",
    "hot_standby_feedback = on",
    "wal_keep_size = '256MB'",
    "max_connections = 200",
    "shared_buffers = '64MB'",
    "fsync = on",
    "log_min_messages = warning",
    "logging_collector = off",
    ...(opts.synchronousCommit === undefined ? [] : [`synchronous_commit = ${opts.synchronousCommit}`]),
    ...(opts.extraConf ?? []),
  ];
}

function makeNode(name: string, dir: string, port: number): PgNode {
  const dataDir = path.join(dir, name);
  const logFile = path.join(dir, `${name}.log`);
  let running = false;
  let admin: postgres.Sql | undefined;
  const url = (db = "postgres"): string => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const getAdmin = (): postgres.Sql => {
    admin ??= postgres(url(), { max: 1, onnotice: () => {}, connect_timeout: 5 });
    return admin;
  };
  const node: PgNode = {
    name,
    port,
    dataDir,
    url,
    get admin() {
      return getAdmin();
    },
    async start() {
      await pg("pg_ctl", ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "start"]);
      running = true;
    },
    async stop() {
      if (!running) return;
      await admin?.end({ timeout: 1 }).catch(() => {});
      admin = undefined;
      await pg("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]).catch(() => {});
      running = false;
    },
    async restart() {
      await pg("pg_ctl", ["-D", dataDir, "-l", logFile, "-m", "fast", "-w", "-t", "60", "restart"]);
      running = true;
    },
    async kill() {
      const pidFile = path.join(dataDir, "postmaster.pid");
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      // The postmaster and every child at once, as when the machine dies (children left alone would notice the
      // postmaster's death on their own, but not at the same instant).
      for (const target of [pid, ...childrenOf(pid)]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // already gone
        }
      }
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      // Backends notice the postmaster's death within a moment; wait until the port is free.
      for (let i = 0; i < 250; i++) {
        const inUse = await new Promise<boolean>((resolve) => {
          const s = net.connect({ host: "127.0.0.1", port });
          s.once("connect", () => {
            s.destroy();
            resolve(true);
          });
          s.once("error", () => resolve(false));
        });
        if (!inUse) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const a = admin;
      admin = undefined;
      void a?.end({ timeout: 0 }).catch(() => {});
      running = false;
    },
    async promote() {
      await pg("pg_ctl", ["-D", dataDir, "-w", "promote"]);
    },
    async pauseReplay() {
      await getAdmin()`select pg_wal_replay_pause()`;
    },
    async resumeReplay() {
      await getAdmin()`select pg_wal_replay_resume()`;
    },
    async lsn() {
      const [r] = await getAdmin()<{ lsn: string }[]>`
        select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)::text as lsn`;
      return r?.lsn ?? "0/0";
    },
    isRunning: () => running,
  };
  return node;
}

/** initdb + start a primary ready for streaming replication. Call destroy() in afterAll (also on failure). */
export async function startPgCluster(opts: PgClusterOptions = {}): Promise<PgCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), "ves-pgcluster-"));
  chownToPostgres(dir);
  const sockDir = path.join(dir, "sock");
  mkdirSync(sockDir);
  chownToPostgres(sockDir);
  const nodes: PgNode[] = [];
  const standbys: PgNode[] = [];
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    for (const n of [...nodes].reverse()) await n.stop().catch(() => {});
    for (const n of nodes) if (existsSync(path.join(n.dataDir, "postmaster.pid"))) await n.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const primary = makeNode("primary", dir, port);
    nodes.push(primary);
    await pg("initdb", ["-D", primary.dataDir, "-A", "trust", "-U", "postgres", "--no-locale", "-E", "UTF8"]);
    writeFileSync(
      path.join(primary.dataDir, "postgresql.auto.conf"),
      `${baseConf(port, sockDir, opts).join("\n")}\n`,
    );
    writeFileSync(
      path.join(primary.dataDir, "pg_hba.conf"),
      [
        "local all all trust",
        "host all all 127.0.0.1/32 trust",
        "host replication all 127.0.0.1/32 trust",
      ].join("\n"),
    );
    await primary.start();

    const cluster: PgCluster = {
      dir,
      primary,
      standbys,
      async addStandby(name) {
        const standbyPort = await freePort();
        const node = makeNode(name, dir, standbyPort);
        await pg("pg_basebackup", [
          "-h",
          "127.0.0.1",
          "-p",
          String(primary.port),
          "-U",
          "postgres",
          "-D",
          node.dataDir,
          "-R",
          "-X",
          "stream",
          "-c",
          "fast",
        ]);
        nodes.push(node);
        // -R wrote primary_conninfo; name the standby for synchronous_standby_names and move it to its port.
        const autoConf = path.join(node.dataDir, "postgresql.auto.conf");
        const conf = readFileSync(autoConf, "utf8")
          .split("\n")
          .filter((l) => !/^(port|synchronous_standby_names|synchronous_commit)\s*=/.test(l))
          .map((l) => (l.startsWith("primary_conninfo") ? l.replace(/'$/, ` application_name=${name}'`) : l));
        conf.push(`port = ${standbyPort}`);
        writeFileSync(autoConf, `${conf.join("\n")}\n`);
        chownToPostgres(autoConf);
        await node.start();
        standbys.push(node);
        if (opts.synchronousStandbyNames !== undefined) {
          // Only now: a synchronous primary without its standby would hold every commit (initdb's included).
          await primary.admin.unsafe(
            `alter system set synchronous_standby_names = '${opts.synchronousStandbyNames.replace(/'/g, "''")}'`,
          );
          await primary.admin`select pg_reload_conf()`;
          await cluster.waitForReplay();
        }
        return node;
      },
      async waitForReplay(timeoutMs = 10_000) {
        const [{ lsn } = { lsn: "0/0" }] = await primary.admin<{ lsn: string }[]>`
          select pg_current_wal_lsn()::text as lsn`;
        const deadline = Date.now() + timeoutMs;
        for (const s of standbys) {
          for (;;) {
            const [r] = await s.admin<{ ok: boolean }[]>`
              select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as ok`;
            if (r?.ok) break;
            if (Date.now() > deadline)
              throw new Error(`standby ${s.name} did not replay ${lsn} in ${timeoutMs} ms`);
            await new Promise((res) => setTimeout(res, 10));
          }
        }
      },
      destroy,
    };
    return cluster;
  } catch (err) {
    await destroy();
    throw err;
  }
}
