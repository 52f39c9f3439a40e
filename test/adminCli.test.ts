// npm run admin against a live sequencer: API keys created, used, listed and revoked; agent keys registered,
// rotated and revoked with generated key pairs; the audit log printed and its chain verified; usage errors.
import { spawn } from "node:child_process";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { Sequencer } from "../src/main.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { REPO_ROOT, startTestSequencer, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

async function admin(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/admin.ts", ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, SEQUENCER_URL: server.url, VES_API_KEY: TEST_ADMIN_KEY },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  return { code, stdout, stderr };
}

/** The CLI prints pretty JSON objects one after another. */
function objects(stdout: string): Record<string, unknown>[] {
  return stdout
    .split(/\n(?=\{)/)
    .filter((s) => s.trim() !== "")
    .map((s) => JSON.parse(s) as Record<string, unknown>);
}

const tenant = crypto.randomUUID();
const agent = crypto.randomUUID();

it("creates an API key whose secret works, lists it, and revokes it", async () => {
  const created = await admin("api-key", "create", "--tenant", tenant, "--scopes", "read", "--name", "ci");
  expect(created.code, created.stderr).toBe(0);
  expect(created.stderr).toMatch(/shown only now/);
  const { api_key: key, secret } = objects(created.stdout)[0] as {
    api_key: { prefix: string };
    secret: string;
  };
  expect(secret).toMatch(/^ves_[0-9a-f]{12}_/);
  const head = () =>
    createClient(SequencerService, testTransport(server.url, secret)).getHead({
      tenantId: tenant,
      storeId: crypto.randomUUID(),
    });
  await expect(head()).resolves.toMatchObject({ headSequence: 0n });
  const listed = await admin("api-key", "list", "--tenant", tenant);
  expect(objects(listed.stdout).map((k) => [k.prefix, k.name, k.permissions])).toEqual([
    [key.prefix, "ci", ["read"]],
  ]);
  expect(listed.stdout).not.toContain(secret);
  expect((await admin("api-key", "revoke", "--tenant", tenant, "--prefix", key.prefix)).code).toBe(0);
  await expect(head()).rejects.toThrow(/revoked/);
});

it("registers, rotates and revokes agent keys, and verifies the audit log's chain", async () => {
  const reg = await admin(
    "agent-key",
    "register",
    "--tenant",
    tenant,
    "--agent",
    agent,
    "--key-id",
    "1",
    "--generate",
  );
  expect(reg.code, reg.stderr).toBe(0);
  const registered = objects(reg.stdout)[0] as { key: { status: string }; seed: string };
  expect(registered.key.status).toBe("active");
  expect(registered.seed).toMatch(/^[0-9a-f]{64}$/);
  const rot = await admin(
    ...["agent-key", "rotate", "--tenant", tenant, "--agent", agent, "--key-id", "1", "--new-key-id", "2"],
    ...["--generate", "--old-valid-to", "+3600"],
  );
  expect(rot.code, rot.stderr).toBe(0);
  expect(objects(rot.stdout)[0]).toMatchObject({
    old_key: { key_id: 1 },
    new_key: { key_id: 2, status: "active" },
  });
  const rev = await admin("agent-key", "revoke", "--tenant", tenant, "--agent", agent, "--key-id", "1");
  expect(objects(rev.stdout)[0]).toMatchObject({ key_id: 1, status: "revoked" });

  const log = await admin("audit-log", "--tenant", tenant, "--verify");
  expect(log.code, log.stderr).toBe(0);
  expect(log.stderr).toMatch(/audit chain verified: 5 entries/);
  expect(objects(log.stdout).map((e) => e.action)).toEqual([
    "api_key.created",
    "api_key.revoked",
    "agent_key.registered",
    "agent_key.rotated",
    "agent_key.revoked",
  ]);
});

it("explains usage, and fails with the server's reason", async () => {
  const help = await admin("agent-key", "rotate", "--help");
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/--old-valid-to TIME/);
  const missing = await admin("api-key", "create", "--tenant", tenant);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/--scopes is required/);
  const metrics = await admin("api-key", "create", "--tenant", tenant, "--scopes", "metrics");
  expect(metrics.code).toBe(2);
  expect(metrics.stderr).toMatch(
    /the metrics scope belongs to no tenant; give scrapers the server's METRICS_API_KEY/,
  );
  const denied = await admin("api-key", "list", "--tenant", "not-a-uuid", "--key", "ves_000000000000_x");
  expect(denied.code).toBe(1);
  expect(denied.stderr).toMatch(/\[Unauthenticated\]/);
});
