// Fee bumping on a real anvil without auto-mining. A sent anchoring transaction is kept out of blocks by
// congestion: no block, or a full one (its gas limit below the transaction's gas) whose base fee rose to just under
// the transaction's max fee, so the network's fee estimate is above what it offers. (Anvil drops a transaction whose
// max fee falls below the base fee instead of keeping it in its pool as geth does, so the base fee cannot be raised
// past it here.) The worker replaces it (same nonce, new hash, higher fees), the replacement is followed to
// finality and the contract holds each commitment once; at the max fee it stops and reports; when the version it
// replaced is the one mined (after a crash between recording and broadcasting the replacement, and a restart), the
// records follow the mined one.
import type postgres from "postgres";
import type { Hash } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { vesAnchorAbi } from "../contracts/gen/vesAnchor.js";
import type { AnchorChain } from "../src/app/anchorPorts.js";
import type { AnchorWorker, AnchorWorkerEvent } from "../src/app/anchorWorker.js";
import { uuidToBytes32 } from "../src/domain/anchor.js";
import type { StreamKey } from "../src/domain/event.js";
import type { Sequencer } from "../src/main.js";
import { type AnchorChainFixture, anchorEnv } from "./support/anvil.js";
import type { TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY } from "./support/sequencer.js";
import { startWorkerChain, type WorkerChain } from "./support/workerChain.js";

let w: WorkerChain;
let db: TestDatabase;
let sql: postgres.Sql;
let fx: AnchorChainFixture;
let sealer: Sequencer;

beforeAll(async () => {
  w = await startWorkerChain();
  ({ db, sql, fx, sealer } = w);
  // Blocks only when a test mines one (evm_mine), so a transaction can wait in the pool.
  await fx.rpc("evm_setAutomine", [false]);
});

afterEach(() => w.stopWorker());

afterAll(() => w?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Appends n events to a new stream through `server` and waits until they are sealed. */
async function sealedStream(n: number, server: Sequencer = sealer): Promise<StreamKey> {
  return (await w.sealedStream(n, server)).stream;
}

function worker(
  events: AnchorWorkerEvent[],
  opts: { maxFeePerGas?: bigint; wrap?: (c: AnchorChain) => AnchorChain } = {},
): AnchorWorker {
  return w.startWorker(events, {
    ...(opts.wrap === undefined ? {} : { wrap: opts.wrap }),
    options: {
      replaceAfterMs: 100,
      ...(opts.maxFeePerGas === undefined ? {} : { maxFeePerGas: opts.maxFeePerGas }),
    },
  });
}

async function rows(stream: StreamKey) {
  const r = await sql<{ sequence_end: bigint; status: string; tx_hash: Uint8Array }[]>`
    select sequence_end, status, tx_hash from commitment_anchors
    where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId} order by sequence_end`;
  return r.map((x) => ({
    end: x.sequence_end,
    status: x.status,
    tx: `0x${Buffer.from(x.tx_hash).toString("hex")}`,
  }));
}

async function attemptHashes(stream: StreamKey): Promise<string[]> {
  const r = await sql<{ tx_hash: Uint8Array }[]>`
    select a.tx_hash from anchor_tx_attempts a
    where a.first_hash in (select b.first_hash from anchor_tx_attempts b join commitment_anchors c
                             on c.tx_hash = b.tx_hash
                           where c.tenant_id = ${stream.tenantId} and c.store_id = ${stream.storeId})
    order by a.sent_at`;
  return r.map((x) => `0x${Buffer.from(x.tx_hash).toString("hex")}`);
}

/** The stream's CommitmentAnchored events on chain (one per anchored commitment). */
async function anchoredEnds(stream: StreamKey): Promise<bigint[]> {
  const logs = await fx.client.getContractEvents({
    address: fx.address,
    abi: vesAnchorAbi,
    eventName: "CommitmentAnchored",
    args: { tenantId: uuidToBytes32(stream.tenantId) },
    fromBlock: 0n,
  });
  return logs.map((l) => l.args.sequenceEnd as bigint);
}

/**
 * A full block: mined with a gas limit below any anchoring transaction's gas and the base fee raised to `baseFee`,
 * so the pending transaction stays in the pool and the network's fee estimate rises. The gas limit is restored
 * afterwards (anvil refuses a new transaction whose gas is above the current block gas limit).
 */
async function congest(baseFee: bigint): Promise<void> {
  await fx.rpc("evm_setBlockGasLimit", ["0xc350"]); // 50,000
  await mineWithBaseFee(baseFee);
  await fx.rpc("evm_setBlockGasLimit", ["0x1c9c380"]); // 30,000,000
}

/** The next block, with room for the pending transaction. */
async function decongest(): Promise<void> {
  await fx.rpc("evm_mine", []);
}

/** Mines one block whose base fee is `baseFee` (wei). */
async function mineWithBaseFee(baseFee: bigint): Promise<void> {
  await fx.rpc("anvil_setNextBlockBaseFeePerGas", [`0x${baseFee.toString(16)}`]);
  await fx.rpc("evm_mine", []);
}

const tx = (hash: string) => fx.client.getTransaction({ hash: hash as Hash });
const receipt = (hash: string) =>
  fx.client.getTransactionReceipt({ hash: hash as Hash }).catch(() => undefined);

describe("fee bumping", () => {
  it("replaces a transaction not mined in time with bumped fees (same nonce) and follows it to finality", async () => {
    const stream = await sealedStream(3);
    const events: AnchorWorkerEvent[] = [];
    const w = worker(events);
    await w.runOnce();
    const [sent] = await rows(stream);
    expect(sent?.status).toBe("submitted");
    const first = await tx(sent?.tx as string);
    // Congestion: the transaction waits in the pool while the base fee rises to just under its max fee.
    await congest(((first.maxFeePerGas as bigint) * 9n) / 10n);
    expect(await receipt(first.hash)).toBeUndefined();
    const network = await fx.client.estimateFeesPerGas();
    expect(network.maxFeePerGas).toBeGreaterThan(((first.maxFeePerGas as bigint) * 9n) / 8n);
    await sleep(150);
    await w.runOnce();
    const replaced = events.filter((e) => e.kind === "replaced");
    expect(replaced.length).toBe(1);
    const second = await tx((await rows(stream))[0]?.tx as string);
    expect(second.hash).not.toBe(first.hash);
    expect(second.nonce).toBe(first.nonce);
    expect(second.input).toBe(first.input);
    // At least the replacement minimum (+12.5 %) on both fees, and at least the network's estimate.
    expect(second.maxFeePerGas as bigint).toBeGreaterThanOrEqual(((first.maxFeePerGas as bigint) * 9n) / 8n);
    expect(second.maxPriorityFeePerGas as bigint).toBeGreaterThanOrEqual(
      ((first.maxPriorityFeePerGas as bigint) * 9n) / 8n,
    );
    expect(second.maxFeePerGas as bigint).toBeGreaterThanOrEqual(network.maxFeePerGas);
    expect(replaced[0]).toMatchObject({
      previousHash: first.hash,
      txHash: second.hash,
      nonce: BigInt(first.nonce),
    });
    expect(await attemptHashes(stream)).toEqual([first.hash, second.hash]);
    await decongest();
    await w.runOnce();
    expect(await rows(stream)).toEqual([
      { end: 2n, status: "final", tx: second.hash },
      { end: 3n, status: "final", tx: second.hash },
    ]);
    expect(await anchoredEnds(stream)).toEqual([2n, 3n]);
    expect((await receipt(second.hash))?.status).toBe("success");
    expect(await receipt(first.hash)).toBeUndefined();
  });

  it("bumps up to ANCHOR_MAX_FEE and no further: reports the transaction stuck until it is mined", async () => {
    const stream = await sealedStream(2);
    const estimate = await fx.client.estimateFeesPerGas();
    // Above the first version's max fee by more than the replacement minimum, below the congested estimate.
    const cap = (estimate.maxFeePerGas * 6n) / 5n;
    const events: AnchorWorkerEvent[] = [];
    const w = worker(events, { maxFeePerGas: cap });
    await w.runOnce();
    const first = await tx((await rows(stream))[0]?.tx as string);
    expect(first.maxFeePerGas).toBe(estimate.maxFeePerGas);
    await congest(first.maxFeePerGas as bigint);
    expect((await fx.client.estimateFeesPerGas()).maxFeePerGas).toBeGreaterThan(cap);
    await sleep(150);
    await w.runOnce(); // replaced at the cap (the network's estimate is above it)
    const second = await tx((await rows(stream))[0]?.tx as string);
    expect(second.nonce).toBe(first.nonce);
    expect(second.maxFeePerGas).toBe(cap);
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      await w.runOnce(); // the next minimum (+12.5 %) would pass the cap: no runaway
    }
    expect(events.filter((e) => e.kind === "replaced").length).toBe(1);
    expect(await attemptHashes(stream)).toEqual([first.hash, second.hash]);
    const capped = events.filter((e) => e.kind === "fee_capped");
    expect(capped).toEqual([
      {
        kind: "fee_capped",
        txHash: second.hash,
        nonce: BigInt(first.nonce),
        fees: { maxFeePerGas: cap, maxPriorityFeePerGas: second.maxPriorityFeePerGas },
        needed: cap + (cap + 7n) / 8n,
        maxFeePerGas: cap,
      },
    ]);
    expect(events.filter((e) => e.kind === "stuck_at_max_fee")).toEqual([
      { kind: "stuck_at_max_fee", transactions: 1 },
    ]);
    expect((await rows(stream)).map((r) => r.status)).toEqual(["submitted"]);
    // Room again: the capped version is mined, and the report is cleared.
    await decongest();
    await w.runOnce();
    expect(await rows(stream)).toEqual([{ end: 2n, status: "final", tx: second.hash }]);
    expect(events.filter((e) => e.kind === "stuck_at_max_fee").at(-1)).toEqual({
      kind: "stuck_at_max_fee",
      transactions: 0,
    });
    expect(await anchoredEnds(stream)).toEqual([2n]);
  });

  it("follows the version it replaced when that one is mined, after a crash before the replacement was broadcast and a restart", async () => {
    const stream = await sealedStream(2);
    const events: AnchorWorkerEvent[] = [];
    // The replacement is recorded, then the process "dies" before broadcasting it.
    const crashing = worker(events, {
      wrap: (chain) => ({
        ...chain,
        replace: (previous, fees, record) =>
          chain.replace(previous, fees, async (t) => {
            await record(t);
            throw new Error("simulated crash between recording and broadcasting the replacement");
          }),
      }),
    });
    await crashing.runOnce();
    const first = await tx((await rows(stream))[0]?.tx as string);
    await sleep(150); // not mined in time (no block)
    await crashing.runOnce();
    expect(events.some((e) => e.kind === "replace_failed")).toBe(true);
    const [pointed] = await rows(stream);
    const unsent = (await attemptHashes(stream))[1];
    expect(pointed).toEqual({ end: 2n, status: "submitted", tx: unsent });
    expect(unsent).not.toBe(first.hash);
    await crashing.stop();
    w.forgetWorker();

    // The original is still in the pool and is mined; the next leader adopts it.
    await fx.rpc("evm_mine", []);
    expect((await receipt(first.hash))?.status).toBe("success");
    const after: AnchorWorkerEvent[] = [];
    const next = worker(after);
    await next.runOnce();
    expect(after).toContainEqual({ kind: "earlier_version_mined", latestHash: unsent, txHash: first.hash });
    expect(await rows(stream)).toEqual([{ end: 2n, status: "final", tx: first.hash }]);
    expect(after.filter((e) => e.kind === "replaced" || e.kind === "submitted")).toEqual([]);
    expect(await anchoredEnds(stream)).toEqual([2n]);
  });

  it("counts replacements in ves_anchor_tx_replacements_total on a server configured by ANCHOR_REPLACE_AFTER_MS", {
    timeout: 60_000,
  }, async () => {
    const server = await startTestSequencer(
      db.url,
      anchorEnv(fx, {
        ANCHOR_CONFIRMATIONS: "1",
        ANCHOR_REPLACE_AFTER_MS: "1000",
        ANCHOR_INTERVAL_MS: "100",
      }),
    );
    try {
      const metric = async (name: string): Promise<number> => {
        const text = await (
          await fetch(`${server.url}/metrics`, { headers: { authorization: `ApiKey ${TEST_ADMIN_KEY}` } })
        ).text();
        const line = text.split("\n").find((l) => l.startsWith(`${name} `));
        return line === undefined ? 0 : Number(line.split(" ")[1]);
      };
      expect(await metric("ves_anchor_tx_replacements_total")).toBe(0);
      const stream = await sealedStream(2, server);
      await expect
        .poll(async () => (await rows(stream))[0]?.status, { timeout: 10_000, interval: 20 })
        .toBe("submitted");
      const first = await tx((await rows(stream))[0]?.tx as string);
      await congest(((first.maxFeePerGas as bigint) * 9n) / 10n);
      await expect
        .poll(() => metric("ves_anchor_tx_replacements_total"), { timeout: 10_000, interval: 100 })
        .toBe(1);
      await decongest();
      await expect
        .poll(async () => (await rows(stream)).map((r) => r.status), { timeout: 10_000, interval: 100 })
        .toEqual(["final"]);
      const [done] = await rows(stream);
      expect(done?.tx).not.toBe(first.hash);
      expect((await tx(done?.tx as string)).nonce).toBe(first.nonce);
      expect(await anchoredEnds(stream)).toEqual([2n]);
      expect(await metric("ves_anchor_tx_stuck_at_max_fee")).toBe(0);
    } finally {
      await server.stop();
    }
  });
});
