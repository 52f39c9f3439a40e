// What a user installs is what is tested: `npm pack` (which builds dist/ with tsc), install the tarball into an
// empty project, then with plain node (no tsx): the client entry bundles for a browser with no server code and
// no Node built-ins, the Node entry appends events to a real server and verifies their receipts, and the `ves`
// bin runs.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { build } from "esbuild";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { bytesToHex } from "../src/crypto/bytes.js";
import type { Sequencer } from "../src/main.js";
import { createAgent as createTestAgent, registerAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { REPO_ROOT, startTestSequencer, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

const run = promisify(execFile);
let dir: string;
let app: string;
let db: TestDatabase;
let server: Sequencer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "ves-pack-"));
  app = path.join(dir, "app");
  mkdirSync(app);
  writeFileSync(
    path.join(app, "package.json"),
    JSON.stringify({ name: "app", private: true, type: "module" }),
  );
  const packed = await run("npm", ["pack", "--pack-destination", dir, "--json"], {
    cwd: REPO_ROOT,
    maxBuffer: 64 << 20,
  });
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  // Offline when every dependency is in the npm cache (npm ci put them there).
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", path.join(dir, filename)], {
    cwd: app,
    maxBuffer: 64 << 20,
  });
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
}, 240_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

it("the client entry bundles for a browser without server code or Node built-ins", async () => {
  const entry = path.join(app, "entry.js");
  writeFileSync(
    entry,
    'export { createAgent, verifyReceipt, verifySequencedEvent, createReader } from "ves-sequencer";\n',
  );
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.some((f) => f.includes("node_modules/ves-sequencer/dist/src/client/createAgent.js"))).toBe(
    true,
  );
  const server = inputs.filter((f) =>
    /node_modules\/(postgres|sodium-native|pino|prom-client|jose|@electric-sql|@connectrpc\/connect-node)\/|ves-sequencer\/dist\/src\/(api|app|infra|node|cli)\//.test(
      f,
    ),
  );
  expect(server).toEqual([]);
});

it("plain node appends through the installed Node entry and verifies every receipt, also in worker threads", async () => {
  const a = createTestAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(server.url)), a);
  const script = path.join(app, "use.mjs");
  writeFileSync(
    script,
    `import { createAgent } from "ves-sequencer/node";
import { hexToBytes, verifyReceipt } from "ves-sequencer";
const [url, key, seed, tenantId, storeId, sourceAgentId] = process.argv.slice(2);
const { signerFromSeed } = await import("ves-sequencer/node");
const sequencerKey = hexToBytes(key);
const agent = createAgent({ url, credential: process.env.KEY, signer: signerFromSeed(hexToBytes(seed)),
  tenantId, storeId, sourceAgentId, agentKeyId: 1, sequencerKey });
const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
  agent.append({ entityType: "order", entityId: "o-" + i, eventType: "order.created", payload: { i } })));
await agent.close();
// The same with the receipts verified in worker threads, started from the installed dist/ by plain node.
const threaded = createAgent({ url, credential: process.env.KEY, signer: signerFromSeed(hexToBytes(seed)),
  tenantId, storeId, sourceAgentId, agentKeyId: 1, sequencerKey, verifyThreads: 2 });
const ts = await Promise.all(Array.from({ length: 20 }, (_, i) =>
  threaded.append({ entityType: "order", entityId: "t-" + i, eventType: "order.created", payload: { i } })));
await threaded.close();
// Not a package export: the module file itself (the same instance), to see the threads did the verifying.
const { verifyPoolOf } = await import(new URL("./node_modules/ves-sequencer/dist/src/node/createAgent.js", import.meta.url).href);
const pool = verifyPoolOf(threaded).stats();
const ok = [...rs, ...ts].every((r) => verifyReceipt(r.receipt, sequencerKey, { expectedSigningHash: r.event.signingHash }).valid);
console.log(JSON.stringify({ ok, sequences: [...rs, ...ts].map((r) => String(r.receipt.sequenceNumber)), pool }));
`,
  );
  const seedHex = bytesToHex(a.seed);
  const out = await run(
    process.execPath,
    [script, server.url, bytesToHex(server.publicKey), seedHex, a.tenantId, a.storeId, a.agentId],
    { cwd: app, env: { ...process.env, KEY: TEST_ADMIN_KEY, NODE_OPTIONS: "" } },
  );
  expect(JSON.parse(out.stdout)).toEqual({
    ok: true,
    sequences: Array.from({ length: 40 }, (_, i) => String(i + 1)),
    // The worker threads started from dist/ and verified every receipt (none fell back to the event loop).
    pool: { inFlight: 0, fallbackChecks: 0, deaths: 0 },
  });
});

it("the installed `ves` bin runs with plain node", async () => {
  const help = await run(path.join(app, "node_modules", ".bin", "ves"), ["--help"], { cwd: app });
  expect(help.stdout).toContain("ves <command>");
  const status = await run(
    path.join(app, "node_modules", ".bin", "ves"),
    ["status", "--url", server.url, "--api-key", TEST_ADMIN_KEY],
    {
      cwd: app,
    },
  );
  expect(JSON.parse(status.stdout)).toMatchObject({
    sequencerId: server.sequencerId,
    protocolVersion: "VES/1.0",
  });
  const err = await run(
    path.join(app, "node_modules", ".bin", "ves"),
    ["status", "--url", "http://127.0.0.1:1"],
    { cwd: app },
  ).catch((e: { code: number }) => e);
  expect((err as { code: number }).code).toBe(3);
});
