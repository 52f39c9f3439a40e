// A throwaway PostgreSQL 15 cluster for tests that stop, restart or kill the database: initdb (as the postgres
// user when running as root) into a temp directory, on a free port on 127.0.0.1, removed afterwards. Never the
// machine's shared PostgreSQL.
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const BIN = process.env.PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";

export interface TempCluster {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  start(): Promise<void>;
  /** Fast shutdown: terminates every backend (57P01) and stops. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** SIGKILL the postmaster (a crash: backends die with it), then wait until the port is free. */
  kill(): Promise<void>;
  /** Stop if running and delete the data directory. */
  cleanup(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound once by the OS, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function asPostgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const out = execFileSync("id", ["-u", "postgres"]).toString().trim();
  const gid = execFileSync("id", ["-g", "postgres"]).toString().trim();
  return { uid: Number(out), gid: Number(gid) };
}

export function hasPostgresBinaries(): boolean {
  return existsSync(path.join(BIN, "initdb")) && existsSync(path.join(BIN, "pg_ctl"));
}

export async function createTempCluster(): Promise<TempCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), "ves-pgcluster-"));
  const data = path.join(dir, "data");
  const logFile = path.join(dir, "pg.log");
  const user = asPostgresUser();
  if (user !== undefined) {
    chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
  }
  const opts = user === undefined ? {} : { uid: user.uid, gid: user.gid };
  await run(
    path.join(BIN, "initdb"),
    ["-D", data, "-A", "trust", "-U", "postgres", "--no-locale", "-E", "UTF8"],
    {
      ...opts,
      env: { PATH: process.env.PATH ?? "" },
    },
  );
  const port = await freePort();
  writeFileSync(
    path.join(data, "postgresql.auto.conf"),
    [
      `listen_addresses = '127.0.0.1'`,
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      "fsync = off",
      "max_connections = 50",
      "",
    ].join("\n"),
  );
  if (user !== undefined) chownSync(path.join(data, "postgresql.auto.conf"), user.uid, user.gid);
  const pgCtl = (...args: string[]) =>
    run(path.join(BIN, "pg_ctl"), ["-D", data, "-l", logFile, ...args], {
      ...opts,
      env: { PATH: process.env.PATH ?? "" },
    });
  let running = false;
  const portFree = async (): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      const inUse = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port });
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      });
      if (!inUse) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`port ${port} still in use after killing the cluster`);
  };
  const cluster: TempCluster = {
    port,
    dir,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await pgCtl("-w", "-t", "30", "start");
      running = true;
    },
    async stop() {
      await pgCtl("-w", "-t", "30", "-m", "fast", "stop");
      running = false;
    },
    async restart() {
      await pgCtl("-w", "-t", "30", "-m", "fast", "restart");
      running = true;
    },
    async kill() {
      const pid = Number(readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0]);
      process.kill(pid, "SIGKILL");
      running = false;
      await portFree();
    },
    async cleanup() {
      if (running) await cluster.stop().catch(() => cluster.kill().catch(() => {}));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
