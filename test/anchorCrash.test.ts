// A leader killed right after broadcasting an anchoring transaction, before its receipt: the next leader finds
// the recorded transaction, follows it to finality, and every commitment is anchored exactly once.
import { createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vesAnchorAbi } from "../contracts/gen/vesAnchor.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { uuidToBytes32 } from "../src/domain/anchor.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { type AnchorChainFixture, anchorEnv, startAnchorChain } from "./support/anvil.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { type SequencerProcess, spawnSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let sql: postgres.Sql;
let fx: AnchorChainFixture;
const procs: SequencerProcess[] = [];

beforeAll(async () => {
  [db, fx] = await Promise.all([createTestDatabase(), startAnchorChain()]);
  sql = postgres(db.url, { max: 2, onnotice: () => {}, types: { bigint: postgres.BigInt } });
});

afterAll(async () => {
  for (const p of procs) await p.stop().catch(() => {});
  await sql?.end({ timeout: 1 });
  await fx?.stop();
  await db?.drop();
});

describe("anchoring after a crash", () => {
  it("records a transaction sent just before the leader died once, and anchors nothing twice", {
    timeout: 120_000,
  }, async () => {
    const env = anchorEnv(fx, { ANCHOR_CONFIRMATIONS: "1", ANCHOR_INTERVAL_MS: "300" });
    const crashing = await spawnSequencer(db.url, { ...env, ANCHOR_FAULT: "exit_after_send" });
    procs.push(crashing);
    const agent = createAgent();
    const transport = testTransport(crashing.url);
    await registerAgent(createClient(KeyRegistryService, transport), agent);
    await createClient(SequencerService, transport).appendBatch({
      batchId: crypto.randomUUID(),
      events: Array.from({ length: 6 }, () => signedEventToProto(agent.event())),
    });
    await expect
      .poll(() => crashing.child.exitCode !== null || crashing.child.signalCode !== null, { timeout: 15_000 })
      .toBe(true);
    expect(crashing.output()).toContain("ANCHOR_FAULT=exit_after_send");
    const [sent] = await sql<{ tx_hash: Uint8Array; status: string }[]>`
      select tx_hash, status from commitment_anchors
      where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId}`;
    expect(sent?.status).toBe("submitted");

    const next = await spawnSequencer(db.url, env);
    procs.push(next);
    const sealed = await sql<{ sequence_end: bigint }[]>`
      select sequence_end from commitments where tenant_id = ${agent.tenantId} order by sequence_end`;
    await expect
      .poll(
        async () =>
          (
            await sql<{ sequence_end: bigint; status: string }[]>`
              select sequence_end, status from commitment_anchors
              where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId} order by sequence_end`
          ).map((r) => `${r.sequence_end}:${r.status}`),
        { timeout: 15_000, interval: 100 },
      )
      .toEqual(sealed.map((r) => `${r.sequence_end}:final`));
    // The transaction sent before the crash is the one recorded, and the chain holds each commitment once.
    const rows = await sql<{ tx_hash: Uint8Array }[]>`
      select distinct tx_hash from commitment_anchors where tenant_id = ${agent.tenantId}`;
    expect(rows.map((r) => Buffer.from(r.tx_hash).toString("hex"))).toContain(
      Buffer.from(sent?.tx_hash as Uint8Array).toString("hex"),
    );
    const logs = await fx.client.getContractEvents({
      address: fx.address,
      abi: vesAnchorAbi,
      eventName: "CommitmentAnchored",
      args: { tenantId: uuidToBytes32(agent.tenantId) },
      fromBlock: 0n,
    });
    expect(logs.map((l) => l.args.sequenceEnd)).toEqual(sealed.map((r) => r.sequence_end));
  });
});
