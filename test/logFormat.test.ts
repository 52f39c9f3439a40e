// Log format of the started server: JSON lines when stdout is not a terminal (even in development), pino-pretty's
// lines when LOG_FORMAT=pretty. The real command, as a child process with its stdout piped.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { REPO_ROOT, TEST_ADMIN_KEY } from "./support/sequencer.js";

let db: TestDatabase;
const dirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Starts the server, waits for its "sequencer listening" line, stops it with SIGTERM; returns its stdout. */
async function startAndStop(env: Record<string, string>): Promise<string> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "ves-log-"));
  dirs.push(dataDir);
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      SEQUENCER_ENV: "development",
      DATABASE_URL: db.url,
      PORT: "0",
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      BOOTSTRAP_ADMIN_API_KEY: TEST_ADMIN_KEY,
      CRYPTO_WORKERS: "1",
      LOG_FORMAT: "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("sequencer listening")) resolve();
    });
    void exited.then((code) => reject(new Error(`exited with ${code} before listening:\n${out}\n${err}`)));
  });
  // Once it answers, startSequencer has returned and the signal handlers are installed.
  const port = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
  expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  return out;
}

it("logs JSON lines without a terminal, and pretty lines with LOG_FORMAT=pretty", async () => {
  const [auto, pretty] = await Promise.all([startAndStop({}), startAndStop({ LOG_FORMAT: "pretty" })]);

  const jsonLines = auto.trim().split("\n");
  expect(jsonLines.length).toBeGreaterThan(3);
  for (const line of jsonLines) {
    expect(JSON.parse(line)).toMatchObject({ level: expect.any(Number), time: expect.any(Number) });
  }
  expect(jsonLines.map((l) => JSON.parse(l).msg)).toContain("stopped");

  const prettyLines = pretty.trim().split("\n");
  const listening = prettyLines.find((l) => l.includes("sequencer listening"));
  // "[HH:MM:ss.mmm] INFO: sequencer listening (gRPC, Connect and gRPC-Web)", its fields indented below it.
  expect(listening).toMatch(
    /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: sequencer listening \(gRPC, Connect and gRPC-Web\)$/,
  );
  expect(pretty).toMatch(/^ {4}url: "http:\/\/127\.0\.0\.1:\d+"$/m);
  // No colours into a pipe, and no JSON line at all.
  expect(pretty).not.toContain("\u001b[");
  expect(prettyLines.filter((l) => l.startsWith("{"))).toEqual([]);
}, 60_000);
