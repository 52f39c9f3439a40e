// The README's demo runs end to end against a live sequencer: key registration, streamed events, and every
// receipt verified by the SDK.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Sequencer } from "../src/main.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { REPO_ROOT, startTestSequencer, TEST_ADMIN_KEY } from "./support/sequencer.js";

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

it("npm run demo registers a key, streams events and verifies every receipt", async () => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/demo.ts", "--url", server.url, "--events", "8", "--api-key", TEST_ADMIN_KEY],
    {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  expect(out).toContain("8/8 receipts verified against the sequencer key");
  expect(out).toContain("replayed batch demo-1: 4 stored receipts returned");
  expect(out).toMatch(/head of the stream: 8;/);
  expect(out.match(/ verified$/gm)?.length).toBe(8);
  expect(code).toBe(0);
});
