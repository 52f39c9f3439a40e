// The README's demo runs end to end against a live sequencer: key registration, streamed events, every receipt
// verified by the SDK, and an inclusion proof with its signed checkpoint. Bad options exit 2 with a clear
// message, and any refusal exits 1 at once with the server's own error code. With ANCHOR_DEV_ANVIL on the server,
// the demo proves an event down to a block on that chain; without anchoring it says so and still exits 0.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sequencer } from "../src/main.js";
import { createTestApiKey } from "./support/auth.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { REPO_ROOT, startTestSequencer, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url, { COMMIT_MAX_AGE_MS: "100" });
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

/** Runs the demo as `npm run demo` does; a demo still running after 30 s fails the test (it must not hang). */
async function demo(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/demo.ts", ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SEQUENCER_URL: "", VES_API_KEY: "", ...env },
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  clearTimeout(timer);
  return { code, out, err, ms: performance.now() - started };
}

it("registers a key, streams events, verifies every receipt and a sealed proof (PORT from the environment)", async () => {
  const tenant = crypto.randomUUID();
  const { code, out, err } = await demo(["--events", "8", "--tenant", tenant], {
    PORT: String(server.address.port),
    VES_API_KEY: TEST_ADMIN_KEY,
  });
  expect(err).toBe("");
  expect(out).toContain(`tenant ${tenant}, store `);
  expect(out).toContain("8/8 receipts verified against the sequencer key");
  expect(out).toContain("replayed batch demo-1: 4 stored receipts returned");
  expect(out).toMatch(/head of the stream: 8;/);
  expect(out.match(/ receipt [0-9a-f]{16}… verified$/gm)?.length).toBe(8);
  expect(out).toMatch(/event #8 is in commitment .*: inclusion proof and signed checkpoint verified$/m);
  expect(out).toContain("anchoring is off on this server");
  expect(code).toBe(0);
});

it("with ANCHOR_DEV_ANVIL on the server, proves the last event down to a block and checks it on the chain", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "ves-demo-anvil-"));
  const anchorDb = await createTestDatabase();
  const anchoring = await startTestSequencer(anchorDb.url, {
    ANCHOR_DEV_ANVIL: "true",
    DATA_DIR: dataDir,
    ANCHOR_CONFIRMATIONS: "1",
    ANCHOR_INTERVAL_MS: "100",
    COMMIT_MAX_AGE_MS: "100",
  });
  try {
    // The dev chain's URL, found by the demo in DATA_DIR as after `ANCHOR_DEV_ANVIL=true npm start`.
    expect(readFileSync(path.join(dataDir, "anvil-rpc-url"), "utf8")).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\n$/,
    );
    const { code, out, err } = await demo(["--url", anchoring.url, "--events", "4"], {
      VES_API_KEY: TEST_ADMIN_KEY,
      DATA_DIR: dataDir,
      ANCHOR_RPC_URL: "",
    });
    expect(err).toBe("");
    expect(out).toMatch(
      /^event #4 is anchored in block \d+ \(0x[0-9a-f]{64}\) on chain 31337, contract 0x[0-9a-f]{40}, tx 0x[0-9a-f]{64}$/m,
    );
    expect(out).toMatch(
      /^ {2}verifyAnchor passed: the contract holds commitment 1\.\.4 with the same roots, \d+ blocks deep/m,
    );
    expect(out).toMatch(
      /^ {2}receipt → inclusion proof → signed checkpoint → anchor in block \d+: verified$/m,
    );
    expect(code).toBe(0);
  } finally {
    await anchoring.stop();
    await anchorDb.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe("options", () => {
  it.each([
    [["--events", "abc"], /--events expected an integer >= 2, got "abc"/],
    [["--bogus"], /Unknown option '--bogus'/],
  ])("%j exits 2 with a message naming the option", async (args, message) => {
    const { code, err } = await demo(args);
    expect(err).toMatch(message);
    expect(code).toBe(2);
  });

  it("--events beyond two batches of the server's limit exits 2 naming the limit", async () => {
    const { code, err } = await demo(["--url", server.url, "--events", "3000", "--api-key", TEST_ADMIN_KEY]);
    expect(err).toMatch(
      /--events expected at most 2000 \(two batches of the server's max_events_per_batch 1000\), got 3000/,
    );
    expect(code).toBe(2);
  });
});

describe("failures exit 1 at once with the server's error code", () => {
  it("a refused call: [permission_denied]", async () => {
    const tenant = crypto.randomUUID();
    const readOnly = await createTestApiKey(testTransport(server.url), { tenantId: tenant, perms: ["read"] });
    const r = await demo(["--url", server.url, "--tenant", tenant, "--api-key", readOnly.secret]);
    expect(r.err).toMatch(/^demo failed: \[permission_denied\] /m);
    expect(r.code).toBe(1);
  });

  it("a stream ended mid-way (rate limit after the first call): [resource_exhausted], no hang", async () => {
    const tenant = crypto.randomUUID();
    const limited = await createTestApiKey(testTransport(server.url), {
      tenantId: tenant,
      perms: ["admin"],
      rateLimit: 1,
    });
    const r = await demo(["--url", server.url, "--tenant", tenant, "--api-key", limited.secret]);
    expect(r.err).toMatch(/^demo failed: \[resource_exhausted\] /m);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
  });

  it("no server: [unavailable] and how to start one", async () => {
    const r = await demo(["--url", "http://127.0.0.1:9"]);
    expect(r.err).toMatch(/cannot reach the sequencer at http:\/\/127\.0\.0\.1:9: \[unavailable\]/);
    expect(r.err).toContain("npm start");
    expect(r.code).toBe(1);
  });
});
