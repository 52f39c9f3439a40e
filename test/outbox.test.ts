// The SQLite outbox against the real server: 10,000 events appended while the sequencer is down all land once
// it is up, exactly once and in order; an agent process SIGKILLed mid-sync and started again loses nothing and
// duplicates nothing.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import Database from "better-sqlite3";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { bytesToHex } from "../src/crypto/bytes.js";
import { sodiumEd25519 } from "../src/crypto/native.js";
import { freePort } from "../src/infra/freePort.js";
import type { Sequencer } from "../src/main.js";
import { signerFromSeed } from "../src/node/createAgent.js";
import { createOutbox } from "../src/node/createOutbox.js";
import { createAgent as createTestAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import {
  REPO_ROOT,
  startTestSequencer,
  TEST_ADMIN_KEY,
  testIdentity,
  testTransport,
} from "./support/sequencer.js";
import { expectGapFree, readStream } from "./support/streamLog.js";

let db: TestDatabase;
let sql: postgres.Sql;
let server: Sequencer | undefined;
const identity = testIdentity();
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
  dir = mkdtempSync(path.join(tmpdir(), "ves-outbox-"));
});

afterAll(async () => {
  await server?.stop();
  await sql?.end({ timeout: 1 });
  await db?.drop();
});

function outboxOrder(file: string): { ids: string[]; unacknowledged: number } {
  const f = new Database(file, { readonly: true });
  try {
    const ids = f.prepare("select event_id from outbox order by position").pluck().all() as string[];
    const unacknowledged = f
      .prepare("select count(*) from outbox where receipt is null")
      .pluck()
      .get() as number;
    return { ids, unacknowledged };
  } finally {
    f.close();
  }
}

async function registered(url: string): Promise<TestAgent> {
  const a = createTestAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(url)), a);
  return a;
}

it("10,000 events appended with the sequencer down land exactly once, in order, once it is up", async () => {
  const port = await freePort();
  const env = { ...identity, PORT: String(port) };
  server = await startTestSequencer(db.url, env);
  const a = await registered(server.url);
  const url = server.url;
  await server.stop();
  server = undefined;

  const file = path.join(dir, "offline.sqlite");
  const outbox = createOutbox({
    path: file,
    url,
    credential: TEST_ADMIN_KEY,
    signer: signerFromSeed(a.seed),
    tenantId: a.tenantId,
    storeId: a.storeId,
    sourceAgentId: a.agentId,
    agentKeyId: a.keyId,
    sequencerKey: sodiumEd25519.getPublicKey(Buffer.from(identity.SEQUENCER_SIGNING_KEY, "hex")),
    reconnect: { initialDelayMs: 50, maxDelayMs: 250 },
  });
  for (let i = 0; i < 10_000; i += 1000) {
    outbox.appendMany(
      Array.from({ length: 1000 }, (_, k) => ({
        entityType: "order",
        entityId: `o-${i + k}`,
        eventType: "order.created",
        payload: { i: i + k },
      })),
    );
  }
  await new Promise((r) => setTimeout(r, 300)); // the sync loop is trying, and failing, to connect
  expect(outbox.status()).toMatchObject({
    waiting: 10_000,
    acknowledged: 0,
    failed: 0,
    lastAcknowledged: null,
    connected: false,
  });

  server = await startTestSequencer(db.url, env);
  await outbox.drain();
  const status = outbox.status();
  expect(status).toMatchObject({ waiting: 0, acknowledged: 10_000, failed: 0 });
  expect(status.lastAcknowledged?.sequence).toBe(10_000n);
  await outbox.close();

  const log = await readStream(sql, a.tenantId, a.storeId);
  expectGapFree(log);
  const order = outboxOrder(file);
  expect(order.unacknowledged).toBe(0);
  expect(log.events.map((e) => e.eventId)).toEqual(order.ids);
}, 90_000);

it("an agent SIGKILLed mid-sync and started again loses nothing and duplicates nothing", async () => {
  server ??= await startTestSequencer(db.url, identity);
  const a = await registered(server.url);
  const file = path.join(dir, "crash.sqlite");
  const key = bytesToHex(server.publicKey);
  const args = (count: number) => [
    "--import",
    "tsx",
    "test/support/outboxProcess.ts",
    file,
    (server as Sequencer).url,
    TEST_ADMIN_KEY,
    bytesToHex(a.seed),
    a.tenantId,
    a.storeId,
    a.agentId,
    key,
    String(count),
  ];
  const N = 2000;
  const first = spawn(process.execPath, args(N), { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const killedAt = await new Promise<{ acknowledged: number; waiting: number }>((resolve, reject) => {
    let buf = "";
    first.stdout.on("data", (c: Buffer) => {
      buf += c.toString();
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) {
        if (!l.startsWith("{")) continue;
        const s = JSON.parse(l) as { acknowledged: number; waiting: number };
        if (s.acknowledged >= 400) {
          first.kill("SIGKILL");
          resolve(s);
        }
      }
    });
    first.once("exit", () => reject(new Error("the agent finished before it was killed")));
  });
  await new Promise((r) => first.once("exit", r));
  expect(killedAt.waiting).toBeGreaterThan(0);
  const midway = outboxOrder(file);
  expect(midway.ids).toHaveLength(N);
  expect(midway.unacknowledged).toBeGreaterThan(0);

  const second = spawn(process.execPath, args(0), { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  second.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise((r) => second.once("exit", r));
  expect(code).toBe(0);
  expect(out).toContain("done");

  const log = await readStream(sql, a.tenantId, a.storeId);
  expectGapFree(log);
  const order = outboxOrder(file);
  expect(order.unacknowledged).toBe(0);
  expect(log.events.map((e) => e.eventId)).toEqual(order.ids);
}, 90_000);
