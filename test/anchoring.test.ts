// The anchoring worker end to end on a real anvil and PostgreSQL: events sealed into commitments are anchored in
// chain order and followed to finality by block depth; a reorg (evm_snapshot / evm_revert) undoes anchors, which
// are anchored again; a commitment the contract refuses is reported and nothing is marked anchored; a submitter
// without funds is reported and recovers once funded.
import { createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vesAnchorAbi } from "../contracts/gen/vesAnchor.js";
import { AnchorService, AnchorState } from "../gen/ves/sequencer/v1/anchor_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { verifyAnchor } from "../src/client/verifyAnchor.js";
import { verifyInclusionProof } from "../src/client/verifyInclusionProof.js";
import { nativeSha256 } from "../src/crypto/native.js";
import { hex32, uuidToBytes32 } from "../src/domain/anchor.js";
import { buildCommitment } from "../src/domain/buildCommitment.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { type AnchorChainFixture, anchorEnv, startAnchorChain } from "./support/anvil.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

interface AnchorRow {
  sequence_end: bigint;
  status: string;
  tx_hash: Uint8Array;
  block_number: bigint | null;
  block_hash: Uint8Array | null;
}

let db: TestDatabase;
let sql: postgres.Sql;
let fx: AnchorChainFixture;
let server: Sequencer;
let miner: Miner;

interface Miner {
  pause(): void;
  resume(): void;
  stop(): void;
}

function startMiner(chain: AnchorChainFixture): Miner {
  let paused = false;
  const timer = setInterval(() => {
    if (!paused) chain.rpc("evm_mine").catch(() => {});
  }, 100);
  return {
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
    },
    stop: () => clearInterval(timer),
  };
}

beforeAll(async () => {
  // Automine (a block per transaction) plus a block every 100 ms from `miner`, paused where a test needs a
  // transaction to stay shallow.
  [db, fx] = await Promise.all([createTestDatabase(), startAnchorChain()]);
  miner = startMiner(fx);
  sql = postgres(db.url, { max: 2, onnotice: () => {}, types: { bigint: postgres.BigInt } });
  server = await startTestSequencer(db.url, anchorEnv(fx));
});

afterAll(async () => {
  miner?.stop();
  await server?.stop();
  await sql?.end({ timeout: 1 });
  await fx?.stop();
  await db?.drop();
});

async function appendEvents(agent: TestAgent, n: number): Promise<string[]> {
  const transport = testTransport(server.url);
  const keys = createClient(KeyRegistryService, transport);
  const seq = createClient(SequencerService, transport);
  if (!(await registered.has(agent.agentId))) {
    await registerAgent(keys, agent);
    registered.add(agent.agentId);
  }
  const events = Array.from({ length: n }, () => agent.event());
  await seq.appendBatch({ batchId: crypto.randomUUID(), events: events.map(signedEventToProto) });
  return events.map((e) => e.eventId);
}
const registered = new Set<string>();

async function metric(line: string): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, {
    headers: { authorization: `ApiKey ${TEST_ADMIN_KEY}` },
  });
  const text = await res.text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.split(" ")[1]);
}

async function anchorsOf(agent: TestAgent): Promise<AnchorRow[]> {
  return sql<AnchorRow[]>`
    select sequence_end, status, tx_hash, block_number, block_hash from commitment_anchors
    where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId} order by sequence_end`;
}

async function sealedEnds(agent: TestAgent): Promise<bigint[]> {
  const rows = await sql<{ sequence_end: bigint }[]>`
    select sequence_end from commitments where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId}
    order by sequence_end`;
  return rows.map((r) => r.sequence_end);
}

async function chainLatest(agent: TestAgent): Promise<readonly [bigint, `0x${string}`]> {
  return fx.client.readContract({
    address: fx.address,
    abi: vesAnchorAbi,
    functionName: "latest",
    args: [uuidToBytes32(agent.tenantId), uuidToBytes32(agent.storeId)],
  });
}

async function expectAllFinal(agent: TestAgent, head: bigint, timeout = 15_000): Promise<AnchorRow[]> {
  await expect.poll(async () => (await sealedEnds(agent)).at(-1), { timeout: 10_000 }).toBe(head);
  await expect
    .poll(async () => (await anchorsOf(agent)).map((r) => `${r.sequence_end}:${r.status}`), {
      timeout,
      interval: 100,
    })
    .toEqual((await sealedEnds(agent)).map((e) => `${e}:final`));
  const rows = await anchorsOf(agent);
  expect(rows.at(-1)?.sequence_end).toBe(head);
  return rows;
}

describe("anchoring worker", () => {
  it("anchors every sealed commitment in chain order and follows it to finality by block depth", async () => {
    const agent = createAgent();
    await appendEvents(agent, 6);
    await appendEvents(agent, 5);
    await expect.poll(async () => (await sealedEnds(agent)).at(-1), { timeout: 10_000 }).toBe(11n);
    const rows = await expectAllFinal(agent, 11n);
    const [end, root] = await chainLatest(agent);
    expect(end).toBe(11n);
    const [last] = await sql<{ new_state_root: Uint8Array }[]>`
      select new_state_root from commitments where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId}
      order by sequence_end desc limit 1`;
    expect(root).toBe(hex32(last?.new_state_root as Uint8Array));
    // Each recorded block is canonical and at least ANCHOR_CONFIRMATIONS deep.
    const head = await fx.client.getBlockNumber({ cacheTime: 0 });
    for (const r of rows) {
      const block = await fx.client.getBlock({ blockNumber: r.block_number as bigint });
      expect(block.hash).toBe(hex32(r.block_hash as Uint8Array));
      expect(head - (r.block_number as bigint) + 1n).toBeGreaterThanOrEqual(3n);
      const receipt = await fx.client.getTransactionReceipt({ hash: hex32(r.tx_hash) });
      expect(receipt.status).toBe("success");
    }
  });

  it("anchors again, after a reorg, what the reorg undid, and reaches finality again", async () => {
    const agent = createAgent();
    await appendEvents(agent, 3);
    await expectAllFinal(agent, 3n);
    miner.pause();
    // A reorg within the finality depth: the next anchor is included (depth 1 < 3) when its block is undone.
    const snapshot = (await fx.rpc("evm_snapshot")) as string;
    await appendEvents(agent, 4);
    await expect
      .poll(async () => (await anchorsOf(agent)).map((r) => `${r.sequence_end}:${r.status}`), {
        timeout: 10_000,
      })
      .toContain("7:included");
    expect((await chainLatest(agent))[0]).toBe(7n);
    await fx.rpc("evm_revert", [snapshot]);
    expect((await chainLatest(agent))[0]).toBe(3n);
    // The worker sees the receipt gone, forgets the record, reads the contract and anchors 4..7 again.
    await expect.poll(async () => (await chainLatest(agent))[0], { timeout: 10_000 }).toBe(7n);
    miner.resume();
    const rows = await expectAllFinal(agent, 7n);
    // The worker saw it: the undone transaction is counted (its receipt vanished with its block).
    expect(await metric('ves_anchor_transactions_total{outcome="reorged"}')).toBeGreaterThanOrEqual(1);
    const last = rows.at(-1) as AnchorRow;
    const block = await fx.client.getBlock({ blockNumber: last.block_number as bigint });
    expect(block.hash).toBe(hex32(last.block_hash as Uint8Array));
  });

  it("serves anchor status and verification, and proves an event down to a block with the SDK and the contract", async () => {
    const agent = createAgent();
    const ids = await appendEvents(agent, 5);
    await expectAllFinal(agent, 5n);
    const transport = testTransport(server.url);
    const anchors = createClient(AnchorService, transport);
    const proofs = createClient(ProofService, transport);
    const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
    const byEvent = { selector: { case: "eventId" as const, value: ids[1] as string } };

    const status = await anchors.getAnchorStatus({ ...stream, selector: byEvent });
    expect(status.state).toBe(AnchorState.FINAL);
    expect(status.target?.chainId).toBe(BigInt(fx.anvil.chainId));
    expect(hex32(status.target?.contractAddress as Uint8Array)).toBe(fx.address.toLowerCase());
    expect(status.target?.confirmations).toBe(3);
    expect(status.txHash.length).toBe(32);
    expect(status.depth).toBeGreaterThanOrEqual(3n);
    expect(status.commitment?.sequenceStart).toBe(1n);
    const receipt = await fx.client.getTransactionReceipt({ hash: hex32(status.txHash) });
    expect(receipt.blockNumber).toBe(status.blockNumber);
    expect(receipt.blockHash).toBe(hex32(status.blockHash));

    const verified = await anchors.verifyAnchor({
      ...stream,
      selector: { selector: { case: "sequenceNumber", value: 5n } },
    });
    expect(verified).toMatchObject({ valid: true, reason: "", final: true, blockNumber: expect.any(BigInt) });
    expect(hex32(verified.newStateRoot)).toBe(hex32(verified.commitment?.newStateRoot as Uint8Array));

    // An event, down to a block: its inclusion proof, the commitment's anchor, and the contract's own check.
    const { proof, commitment } = await proofs.getInclusionProof({
      ...stream,
      selector: { case: "eventId", value: ids[1] as string },
    });
    if (proof === undefined || commitment === undefined) throw new Error("no proof");
    expect(verifyInclusionProof(proof).valid).toBe(true);
    expect(
      await verifyAnchor(commitment, { client: fx.client, address: fx.address, confirmations: 3 }),
    ).toMatchObject({
      valid: true,
      final: true,
    });
    expect(
      await fx.client.readContract({
        address: fx.address,
        abi: vesAnchorAbi,
        functionName: "verifyInclusion",
        args: [
          uuidToBytes32(agent.tenantId),
          uuidToBytes32(agent.storeId),
          commitment.sequenceEnd,
          hex32(proof.leafHash),
          BigInt(proof.leafIndex),
          proof.siblings.map(hex32),
        ],
      }),
    ).toBe(true);

    // A commitment the sequencer might show, with the same range but other events: self-consistent, not anchored.
    const other = buildCommitment(
      nativeSha256,
      stream,
      undefined,
      [1n, 2n, 3n, 4n].map((n) => ({
        sequenceNumber: n,
        eventSigningHash: new Uint8Array(32).fill(Number(n)),
        agentSignature: new Uint8Array(64),
      })),
    );
    expect(await verifyAnchor(other, { client: fx.client, address: fx.address })).toMatchObject({
      valid: false,
      reason: "merkle_root_mismatch",
    });
    expect(
      await verifyAnchor(
        { ...commitment, merkleRoot: new Uint8Array(32) },
        { client: fx.client, address: fx.address },
      ),
    ).toMatchObject({ valid: false, reason: "state_root_invalid" });
    const elsewhere = buildCommitment(nativeSha256, createAgent(), undefined, [
      { sequenceNumber: 1n, eventSigningHash: new Uint8Array(32), agentSignature: new Uint8Array(64) },
    ]);
    expect(await verifyAnchor(elsewhere, { client: fx.client, address: fx.address })).toMatchObject({
      valid: false,
      reason: "not_anchored",
    });
  });
});
