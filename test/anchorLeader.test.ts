// Two sequencer processes with anchoring on, one database, one chain: exactly one is the anchoring leader and
// submits; no commitment is anchored twice; when the leader is killed, the stand-by takes over within seconds.
import { createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vesAnchorAbi } from "../contracts/gen/vesAnchor.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { uuidToBytes32 } from "../src/domain/anchor.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
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

async function append(url: string, agent: TestAgent, n: number, register: boolean): Promise<void> {
  const transport = testTransport(url);
  if (register) await registerAgent(createClient(KeyRegistryService, transport), agent);
  await createClient(SequencerService, transport).appendBatch({
    batchId: crypto.randomUUID(),
    events: Array.from({ length: n }, () => signedEventToProto(agent.event())),
  });
}

async function finalEnd(agent: TestAgent): Promise<bigint | undefined> {
  const [row] = await sql<{ e: bigint | null }[]>`
    select max(sequence_end) as e from commitment_anchors
    where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId} and status = 'final'`;
  return row?.e ?? undefined;
}

const LEADER = "anchoring: this instance is now the leader";
const SENT = "anchoring: transaction sent";
const count = (text: string, needle: string): number => text.split(needle).length - 1;

describe("anchoring leader election", () => {
  it("lets exactly one of two processes submit, and the stand-by take over when the leader dies", async () => {
    const env = anchorEnv(fx, { ANCHOR_CONFIRMATIONS: "1" });
    procs.push(...(await Promise.all([spawnSequencer(db.url, env), spawnSequencer(db.url, env)])));
    const [p1, p2] = procs as [SequencerProcess, SequencerProcess];
    const agent = createAgent();
    await append(p1.url, agent, 5, true);
    await append(p2.url, agent, 4, false);
    await expect.poll(() => finalEnd(agent), { timeout: 15_000, interval: 100 }).toBe(9n);
    const leaders = procs.filter((p) => p.output().includes(LEADER));
    expect(leaders.length).toBe(1);
    const leader = leaders[0] as SequencerProcess;
    const standby = leader === p1 ? p2 : p1;
    expect(count(leader.output(), SENT)).toBeGreaterThan(0);
    expect(count(standby.output(), SENT)).toBe(0);

    // The leader dies without a goodbye; its lock goes with its connection.
    await leader.kill("SIGKILL");
    const killedAt = Date.now();
    await expect.poll(() => standby.output().includes(LEADER), { timeout: 10_000, interval: 50 }).toBe(true);
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(5_000);
    await append(standby.url, agent, 3, false);
    await expect.poll(() => finalEnd(agent), { timeout: 15_000, interval: 100 }).toBe(12n);
    expect(count(standby.output(), SENT)).toBeGreaterThan(0);

    // Every commitment was anchored exactly once, and no anchoring transaction reverted.
    const logs = await fx.client.getContractEvents({
      address: fx.address,
      abi: vesAnchorAbi,
      eventName: "CommitmentAnchored",
      args: { tenantId: uuidToBytes32(agent.tenantId) },
      fromBlock: 0n,
    });
    const ends = logs.map((l) => l.args.sequenceEnd);
    const sealed = await sql<{ sequence_end: bigint }[]>`
      select sequence_end from commitments where tenant_id = ${agent.tenantId} order by sequence_end`;
    expect(ends).toEqual(sealed.map((r) => r.sequence_end));
    const head = await fx.client.getBlockNumber({ cacheTime: 0 });
    for (let b = 1n; b <= head; b++) {
      const block = await fx.client.getBlock({ blockNumber: b, includeTransactions: false });
      for (const hash of block.transactions) {
        expect((await fx.client.getTransactionReceipt({ hash })).status, `tx ${hash}`).toBe("success");
      }
    }
  });
});
