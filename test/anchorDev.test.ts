// ANCHOR_DEV_ANVIL: the development setting starts a local anvil, deploys the contract and anchors to it; the
// chain is kept in DATA_DIR, so a restart finds the contract and its anchors again.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnchorService, AnchorState } from "../gen/ves/sequencer/v1/anchor_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
const servers: Sequencer[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  await db?.drop();
});

describe("ANCHOR_DEV_ANVIL", () => {
  it("anchors to a local anvil it starts, and finds the contract and anchors again after a restart", async () => {
    const env = {
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "ves-anvil-dev-")),
      ANCHOR_DEV_ANVIL: "true",
      ANCHOR_CONFIRMATIONS: "1",
      ANCHOR_INTERVAL_MS: "100",
      COMMIT_MAX_AGE_MS: "50",
      COMMIT_POLL_MS: "20",
    };
    const first = await startTestSequencer(db.url, env);
    servers.push(first);
    const agent = createAgent();
    const transport = testTransport(first.url);
    await registerAgent(createClient(KeyRegistryService, transport), agent);
    await createClient(SequencerService, transport).appendBatch({
      batchId: crypto.randomUUID(),
      events: [signedEventToProto(agent.event()), signedEventToProto(agent.event())],
    });
    const request = {
      tenantId: agent.tenantId,
      storeId: agent.storeId,
      selector: { selector: { case: "sequenceNumber" as const, value: 2n } },
    };
    const status = async (url: string) =>
      createClient(AnchorService, testTransport(url)).getAnchorStatus(request);
    await expect
      .poll(async () => (await status(first.url)).state, { timeout: 15_000 })
      .toBe(AnchorState.FINAL);
    const before = await status(first.url);
    expect(before.target?.chainId).toBe(31337n);
    await first.stop();

    const second = await startTestSequencer(db.url, env);
    servers.push(second);
    const verified = await createClient(AnchorService, testTransport(second.url)).verifyAnchor(request);
    expect(verified).toMatchObject({ valid: true, reason: "" });
    expect(verified.target?.contractAddress).toEqual(before.target?.contractAddress);
  });
});
