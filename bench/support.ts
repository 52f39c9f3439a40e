// The bench harness: options with generated --help, a throwaway database, the server as a child process (so its
// CPU and memory are its own) with authenticated clients, CPU and memory sampling, the machine's description,
// and progress output for long steps. Each bench file says only what it measures.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, type GrpcTransportOptions } from "@connectrpc/connect-node";
import postgres from "postgres";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";

const ROOT = path.resolve(import.meta.dirname, "..");

export function baseDatabaseUrl(): string {
  return (
    process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
  );
}

export interface BenchOption {
  readonly type: "string" | "boolean";
  readonly default?: string | boolean;
  /** One line for --help; the default is appended. */
  readonly help: string;
}

type BenchValues<O extends Record<string, BenchOption>> = {
  [K in keyof O]: O[K]["type"] extends "boolean"
    ? boolean
    : O[K] extends { default: string }
      ? string
      : string | undefined;
};

/**
 * The options of bench `name` (the command-line words after it), or its --help, generated from `options`, printed
 * before exiting. `about` is the bench's one-paragraph description for --help.
 */
export function benchArgs<const O extends Record<string, BenchOption>>(
  name: string,
  about: string,
  options: O,
  database = "Uses DATABASE_URL (or TEST_DATABASE_URL, or postgres://postgres@127.0.0.1:5432/postgres) to create a throwaway database.",
): BenchValues<O> {
  const spec: Record<string, { type: "string" | "boolean"; default?: string | boolean }> = {
    help: { type: "boolean", default: false },
  };
  for (const [k, o] of Object.entries(options)) {
    spec[k] = o.default === undefined ? { type: o.type } : { type: o.type, default: o.default };
  }
  const { values } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== name), options: spec });
  if (values.help === true) {
    const flags = Object.entries(options).map(
      ([k, o]) => [`--${k}${o.type === "string" ? " V" : ""}`, o] as const,
    );
    const width = Math.max(...flags.map(([f]) => f.length));
    process.stdout.write(
      [
        `npm run bench -- ${name} [options]`,
        about,
        "",
        ...flags.map(
          ([f, o]) =>
            `  ${f.padEnd(width)}  ${o.help}${o.default === undefined || o.default === false ? "" : ` (default ${o.default})`}`,
        ),
        database,
        "",
      ].join("\n"),
    );
    process.exit(0);
  }
  return values as BenchValues<O>;
}

/** A whole-number option value of at least `min`; otherwise exits (status 2) naming the option, value and bound. */
export function benchInt(option: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${option}: expected a whole number >= ${min}, got ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}

/** The machine and build a figure was measured on, for every bench's JSON line. */
export function benchMachine(): {
  cpus: number;
  cpu: string;
  memGb: number;
  node: string;
  loadAverage: number[];
  version: string;
} {
  return {
    cpus: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    memGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
    version: (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string })
      .version,
  };
}

export interface BenchDatabase {
  readonly url: string;
  drop(): Promise<void>;
  /** Keeps the database; only closes the admin connection. */
  release(): Promise<void>;
}

export async function createBenchDatabase(
  prefix: string,
  baseUrl: string = baseDatabaseUrl(),
): Promise<BenchDatabase> {
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  await admin.unsafe(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 1 });
    },
    async release() {
      await admin.end({ timeout: 1 });
    },
  };
}

/** A gRPC transport to the bench server that presents the bench admin key. */
export function benchTransport(baseUrl: string, extra: Partial<GrpcTransportOptions> = {}): Transport {
  return createGrpcTransport({
    baseUrl,
    ...extra,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `ApiKey ${BENCH_ADMIN_KEY}`);
        return next(req);
      },
    ],
  });
}

/** The bootstrap admin key the bench server runs with; bench clients authenticate with it. */
export const BENCH_ADMIN_KEY = "bench-bootstrap-admin-key-0123456789abcdef";

export interface BenchServer {
  readonly url: string;
  readonly child: ChildProcess;
  /** Forget the peak seen so far (start of the measured window). */
  resetPeak(): void;
  peakRssMb(): number;
  stop(): Promise<void>;
}

export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export async function spawnServer(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<BenchServer> {
  // BENCH_SERVER_NODE_ARGS adds node flags to the server only, e.g. "--cpu-prof --cpu-prof-dir=.bench".
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const child = spawn(process.execPath, [...extra, "--import", "tsx", "src/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      SEQUENCER_ENV: "test",
      DATABASE_URL: databaseUrl,
      PORT: "0",
      LOG_LEVEL: "warn",
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "ves-bench-")),
      BOOTSTRAP_ADMIN_API_KEY: BENCH_ADMIN_KEY,
      ...env,
      // The listening line is logged at info.
      ...(env.LOG_LEVEL === undefined ? { LOG_LEVEL: "info" } : {}),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  // BENCH_SERVER_LOG=<file> keeps the server's output (logs, --trace-gc) for a look afterwards.
  const logFile = process.env.BENCH_SERVER_LOG;
  if (logFile !== undefined) child.stdout?.pipe(createWriteStream(logFile));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /"url":"http:\/\/[^:]+:(\d+)".*"msg":"sequencer listening/.exec(out);
      if (m) resolve(Number(m[1]));
      if (out.length > 1_000_000) out = out.slice(-10_000);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(child.pid as number));
  }, 100);
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    resetPeak() {
      peak = rssMb(child.pid as number);
    },
    peakRssMb: () => Math.max(peak, rssMb(child.pid as number)),
    async stop() {
      clearInterval(timer);
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * Progress for long steps on stderr: one line redrawn in place on a terminal; otherwise (a log file, CI) a plain
 * line every 5 s, so a captured run stays readable.
 */
export function progress(label: string, total: number): { tick(n?: number): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let n = 0;
  let last = performance.now();
  const start = last;
  const line = (): string =>
    `${label}: ${n}/${total} (${total === 0 ? 100 : Math.floor((n / total) * 100)}%)`;
  return {
    tick(k = 1) {
      n += k;
      const now = performance.now();
      if (now - last > (tty ? 250 : 5_000)) {
        last = now;
        process.stderr.write(tty ? `\r${line()}` : `${line()}\n`);
      }
    },
    done() {
      process.stderr.write(
        `${tty ? "\r" : ""}${line()} ${((performance.now() - start) / 1000).toFixed(1)} s\n`,
      );
    },
  };
}

/** The processes whose parent chain leads to `root` (not `root` itself). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields !== undefined) parent.set(Number(entry), Number(fields[1]));
  }
  const out: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

export interface BenchPostgres {
  /** postgres:// URL of the cluster's `postgres` database. */
  readonly url: string;
  /** Pins the postmaster and every backend (present and, by inheritance, future) to `cpus`. */
  pin(cpus: string): void;
  stop(): Promise<void>;
}

/**
 * A PostgreSQL cluster of this bench's own (the embedded PostgreSQL 15 the sequencer starts in development, in a
 * temporary directory), for benches that pin the database's processes to CPUs: the machine's shared server must
 * not be re-pinned.
 */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const { startEmbeddedPostgres } = await import("../src/infra/pg/embeddedPostgres.js");
  const dataDir = mkdtempSync(path.join(tmpdir(), "ves-bench-pg-"));
  chmodSync(dataDir, 0o755); // as root, the cluster runs as the postgres user, who must reach its directory
  const pg = await startEmbeddedPostgres({ dataDir, port: 0 });
  const postmaster = Number(readFileSync(path.join(pg.clusterDir, "postmaster.pid"), "utf8").split("\n")[0]);
  return {
    url: pg.url,
    pin(cpus) {
      for (const pid of [postmaster, ...descendants(postmaster)]) {
        try {
          pinCpus(pid, cpus);
        } catch {
          // a backend that exited meanwhile
        }
      }
    },
    async stop() {
      await pg.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Pins every thread of process `pid` to the CPUs in `cpus` (taskset's list syntax, e.g. "0" or "0,1"). Used to
 * give a bench client its own core, as an agent on its own machine would have.
 */
export function pinCpus(pid: number, cpus: string): void {
  execFileSync("taskset", ["-a", "-cp", cpus, String(pid)], { stdio: "ignore" });
}

const CLOCK_TICKS = 100;

/** The fields of /proc/<pid>/stat after the command name (state, ppid, …), or undefined once it has exited. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function processCpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return fields === undefined ? 0 : (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      if (comm === "postgres" || comm.startsWith("postgres:")) total += processCpuSeconds(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return total;
}

export interface CpuSample {
  server: number;
  postgres: number;
  client: number;
}

/** CPU seconds used so far by the server process (all threads), every postgres process, and this process. */
export function sampleCpu(serverPid: number): CpuSample {
  const self = process.cpuUsage();
  return {
    server: processCpuSeconds(serverPid),
    postgres: postgresCpuSeconds(),
    client: (self.user + self.system) / 1e6,
  };
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuSample {
  return { server: b.server - a.server, postgres: b.postgres - a.postgres, client: b.client - a.client };
}

/**
 * Waits until this process's event loop answers on time (five 10 ms sleeps in a row each within 5 ms of due,
 * at most 5 s): after a large gc() the freeing goes on for a while and would delay a paced schedule.
 */
export async function settle(): Promise<void> {
  const deadline = performance.now() + 5_000;
  let onTime = 0;
  while (onTime < 5 && performance.now() < deadline) {
    const t = performance.now();
    await new Promise((r) => setTimeout(r, 10));
    onTime = performance.now() - t < 15 ? onTime + 1 : 0;
  }
}

export interface Bench {
  readonly db: BenchDatabase;
  readonly server: BenchServer;
  readonly pid: number;
  /** host:port, for the raw grpc-js clients. */
  readonly address: string;
  readonly transport: Transport;
  readonly sequencer: Client<typeof SequencerService>;
  readonly keys: Client<typeof KeyRegistryService>;
  /** The receipt-signing key the server publishes, pinned for verifying receipts. */
  readonly sequencerKey: Uint8Array;
  /** Stops the server; drops the database unless `keepDatabase`. */
  stop(opts?: { keepDatabase?: boolean }): Promise<void>;
}

/** A throwaway database (or `db`), the server on it with `env`, and authenticated clients. */
export async function startBench(
  prefix: string,
  env: Record<string, string> = {},
  db?: BenchDatabase,
): Promise<Bench> {
  const database = db ?? (await createBenchDatabase(prefix));
  const server = await spawnServer(database.url, env).catch(async (err: unknown) => {
    await database.drop();
    throw err;
  });
  const transport = benchTransport(server.url);
  const sequencer = createClient(SequencerService, transport);
  const info = await sequencer.getSequencerInfo({});
  return {
    db: database,
    server,
    pid: server.child.pid as number,
    address: server.url.replace("http://", ""),
    transport,
    sequencer,
    keys: createClient(KeyRegistryService, transport),
    sequencerKey: info.signingKeys[0]?.publicKey as Uint8Array,
    async stop(opts = {}) {
      await server.stop();
      if (opts.keepDatabase === true) await database.release();
      else await database.drop();
    },
  };
}
