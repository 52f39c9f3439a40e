// The production way to run: `npm run build` (tsc, tsconfig.build.json) and plain `node dist/src/main.js`, with
// no TypeScript loader at run time, crypto worker threads included. It answers calls and exits 0 on SIGTERM.
import { execFile, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { appendAll } from "./support/reads.js";
import { REPO_ROOT, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

// Inside the repository (under node_modules/.cache), so the compiled server finds package.json and migrations/
// above it just as dist/ does; apart from dist/, so a test run never touches a developer's build.
const OUT = path.join(REPO_ROOT, "node_modules", ".cache", `ves-build-test-${process.pid}`);

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  await db?.drop();
});

it("compiles with tsc and serves from plain node, crypto workers included; SIGTERM exits 0", {
  timeout: 180_000,
}, async () => {
  const tsc = path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  await promisify(execFile)(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", OUT], {
    cwd: REPO_ROOT,
  });
  const main = path.join(OUT, "src", "main.js");
  expect(existsSync(main)).toBe(true);
  expect(existsSync(path.join(OUT, "src", "infra", "crypto", "cryptoWorker.js"))).toBe(true);
  // The SDK's receipt-verification thread (verifyThreads), started from dist/ as .js (test/package.test.ts runs it).
  expect(existsSync(path.join(OUT, "src", "node", "verifyWorker.js"))).toBe(true);

  const child = spawn(process.execPath, [main], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      SEQUENCER_ENV: "test",
      DATABASE_URL: db.url,
      PORT: "0",
      CRYPTO_WORKERS: "1",
      BOOTSTRAP_ADMIN_API_KEY: TEST_ADMIN_KEY,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  try {
    const deadline = Date.now() + 30_000;
    let port: number | undefined;
    while (port === undefined) {
      const m = /"url":"http:\/\/[^:]+:(\d+)".*"msg":"sequencer listening/.exec(out);
      if (m !== null) port = Number(m[1]);
      else if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not listen:\n${out}`);
      else await new Promise((r) => setTimeout(r, 50));
    }
    const transport = testTransport(`http://127.0.0.1:${port}`);
    const agent = createAgent();
    await registerAgent(createClient(KeyRegistryService, transport), agent);
    // Appending verifies the agent's signature and signs the receipt in the crypto worker threads.
    const sequences = await appendAll(createClient(SequencerService, transport), [
      agent.event(),
      agent.event(),
    ]);
    expect(sequences).toEqual([1n, 2n]);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toMatch(/"msg":"stopped"/);
    expect(out).not.toMatch(/"level":(5|6)0/);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
