// Starting sequencers for tests: in this process (fast), or as a child process (for crashes and multi-instance).
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { type Config, readConfig } from "../../src/config.js";
import { type Sequencer, type StartOptions, startSequencer } from "../../src/main.js";

export const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..");

/** The bootstrap admin key every test sequencer starts with (unless a test overrides it). */
export const TEST_ADMIN_KEY = "test-bootstrap-admin-key-0123456789abcdef";

/** Sends `authorization: ApiKey <key>` (or `Bearer <token>`) with every call. */
export function withCredential(credential: string, scheme: "ApiKey" | "Bearer" = "ApiKey"): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `${scheme} ${credential}`);
    return next(req);
  };
}

/** A gRPC transport to a test sequencer that authenticates as `credential` (the bootstrap admin by default). */
export function testTransport(url: string, credential: string = TEST_ADMIN_KEY): Transport {
  return createGrpcTransport({ baseUrl: url, interceptors: [withCredential(credential)] });
}

/** A fixed identity shared by instances of one test, so receipts verify against one key. */
export function testIdentity(): { SEQUENCER_ID: string; SEQUENCER_SIGNING_KEY: string } {
  return {
    SEQUENCER_ID: randomUUID(),
    SEQUENCER_SIGNING_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
  };
}

export async function startTestSequencer(
  databaseUrl: string,
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<Sequencer> {
  const config: Config = readConfig({
    SEQUENCER_ENV: "test",
    DATABASE_URL: databaseUrl,
    PORT: "0",
    DATA_DIR: mkdtempSync(path.join(tmpdir(), "ves-test-")),
    LOG_LEVEL: "silent",
    CRYPTO_WORKERS: "2",
    DB_POOL_MAX: "8",
    BOOTSTRAP_ADMIN_API_KEY: TEST_ADMIN_KEY,
    ...env,
  });
  return startSequencer(config, pino({ level: config.logLevel }), options);
}

export interface SequencerProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly output: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Spawns `node --import tsx src/main.ts` and waits for its "listening" log line. */
export async function spawnSequencer(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<SequencerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      SEQUENCER_ENV: "test",
      DATABASE_URL: databaseUrl,
      PORT: "0",
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "ves-test-")),
      LOG_LEVEL: "info",
      BOOTSTRAP_ADMIN_API_KEY: TEST_ADMIN_KEY,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /"url":"http:\/\/[^:]+:(\d+)".*"msg":"sequencer listening/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    void exited.then((code) => reject(new Error(`sequencer exited with ${code} before listening:\n${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => out,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
    async kill(signal) {
      child.kill(signal);
      await exited;
    },
  };
}
