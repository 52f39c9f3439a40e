// Shared bench plumbing: a throwaway database, the server as a child process (so its CPU and memory are its
// own), and progress output for long steps.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport, type GrpcTransportOptions } from "@connectrpc/connect-node";
import postgres from "postgres";

const ROOT = path.resolve(import.meta.dirname, "..");

export function baseDatabaseUrl(): string {
  return (
    process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
  );
}

export async function createBenchDatabase(
  prefix: string,
): Promise<{ url: string; drop(): Promise<void>; release(): Promise<void> }> {
  const admin = postgres(baseDatabaseUrl(), { max: 1, onnotice: () => {} });
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  await admin.unsafe(`create database ${name}`);
  const url = new URL(baseDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 1 });
    },
    /** Keeps the database; only closes the admin connection. */
    async release() {
      await admin.end({ timeout: 1 });
    },
  };
}

/** The bootstrap admin key the bench server runs with; bench clients authenticate with it. */
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

export const BENCH_ADMIN_KEY = "bench-bootstrap-admin-key-0123456789abcdef";

export interface BenchServer {
  readonly url: string;
  readonly child: ChildProcess;
  /** Forget the peak seen so far (start of the measured window). */
  resetPeak(): void;
  peakRssMb(): number;
  stop(): Promise<void>;
}

function rssMb(pid: number): number {
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

/** A one-line progress counter on stderr for long steps. */
export function progress(label: string, total: number): { tick(n?: number): void; done(): void } {
  let n = 0;
  let last = 0;
  const start = performance.now();
  const draw = (): void => {
    const pct = total === 0 ? 100 : Math.floor((n / total) * 100);
    process.stderr.write(`\r${label}: ${n}/${total} (${pct}%)`);
  };
  return {
    tick(k = 1) {
      n += k;
      const now = performance.now();
      if (now - last > 250) {
        last = now;
        draw();
      }
    },
    done() {
      draw();
      process.stderr.write(` ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
    },
  };
}

const CLOCK_TICKS = 100;

function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
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
