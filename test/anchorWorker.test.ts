// The anchoring worker in this process, over the real viem adapter, anvil and PostgreSQL, for the paths that need
// a hand on the chain: a commitment already on chain (a lost receipt) is recorded and never sent again; a stream
// the contract refuses is reported, nothing of it is marked anchored, and the other streams go on; a submitter
// without funds is reported and recovers once funded.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Code, createClient } from "@connectrpc/connect";
import type postgres from "postgres";
import { parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { vesAnchorAbi } from "../contracts/gen/vesAnchor.js";
import { AnchorService } from "../gen/ves/sequencer/v1/anchor_pb.js";
import type { AnchorChain } from "../src/app/anchorPorts.js";
import type { AnchorWorker, AnchorWorkerEvent } from "../src/app/anchorWorker.js";
import { nativeSha256 } from "../src/crypto/native.js";
import { toAnchorInput } from "../src/domain/anchor.js";
import { buildCommitment } from "../src/domain/buildCommitment.js";
import type { Commitment } from "../src/domain/commitment.js";
import { ANVIL_DEV_KEY } from "../src/infra/eth/anvil.js";
import type { PgAnchorStore } from "../src/infra/pg/pgAnchorStore.js";
import type { Sequencer } from "../src/main.js";
import type { TestAgent } from "./support/agent.js";
import type { AnchorChainFixture } from "./support/anvil.js";
import type { TestDatabase } from "./support/db.js";
import { REPO_ROOT, testTransport } from "./support/sequencer.js";
import { startWorkerChain, type WorkerChain } from "./support/workerChain.js";

const execFileAsync = promisify(execFile);

let w: WorkerChain;
let db: TestDatabase;
let sql: postgres.Sql;
let fx: AnchorChainFixture;
let server: Sequencer;
let store: PgAnchorStore;

beforeAll(async () => {
  w = await startWorkerChain();
  ({ db, sql, fx, store } = w);
  server = w.sealer;
});

afterEach(() => w.stopWorker());

afterAll(() => w?.stop());

/** Appends n events to a new stream and waits until they are all sealed; returns its commitments. */
const sealedStream = (n: number) => w.sealedStream(n);

function worker(
  events: AnchorWorkerEvent[],
  opts: { key?: `0x${string}`; wrap?: (c: AnchorChain) => AnchorChain } = {},
): AnchorWorker {
  return w.startWorker(events, opts);
}

async function ownerAnchor(c: Commitment | ReturnType<typeof buildCommitment>): Promise<`0x${string}`> {
  const hash = await fx.wallet.writeContract({
    address: fx.address,
    abi: vesAnchorAbi,
    functionName: "anchor",
    args: [toAnchorInput(c)],
  });
  await fx.client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  return hash;
}

async function anchorRows(agent: TestAgent) {
  return sql<{ sequence_end: bigint; status: string; tx_hash: Uint8Array }[]>`
    select sequence_end, status, tx_hash from commitment_anchors
    where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId} order by sequence_end`;
}

async function anchoredLogs(agent: TestAgent) {
  const logs = await fx.client.getContractEvents({
    address: fx.address,
    abi: vesAnchorAbi,
    eventName: "CommitmentAnchored",
    fromBlock: 0n,
  });
  return logs.filter(
    (l) =>
      l.args.tenantId ===
      toAnchorInput({ ...dummy, tenantId: agent.tenantId, storeId: agent.storeId }).tenantId,
  );
}
const dummy = {
  storeId: "",
  sequenceStart: 1n,
  sequenceEnd: 1n,
  leafCount: 1,
  merkleRoot: new Uint8Array(32),
  prevStateRoot: new Uint8Array(32),
  newStateRoot: new Uint8Array(32),
};

describe("anchoring worker against the contract's state", () => {
  it("records a commitment already on chain (a lost receipt) and never sends it again", async () => {
    const { agent, commitments } = await sealedStream(5);
    expect(commitments.length).toBe(3);
    // As if a previous leader sent the first commitment and died before recording anything.
    const lostTx = await ownerAnchor(commitments[0] as Commitment);
    const events: AnchorWorkerEvent[] = [];
    const w = worker(events);
    await w.runOnce();
    await w.runOnce(); // follows the new transaction to depth 1
    const rows = await anchorRows(agent);
    expect(rows.map((r) => `${r.sequence_end}:${r.status}`)).toEqual(["2:final", "4:final", "5:final"]);
    expect(Buffer.from(rows[0]?.tx_hash as Uint8Array).toString("hex")).toBe(lostTx.slice(2));
    expect(events.some((e) => e.kind === "found_on_chain" && e.sequenceEnd === 2n)).toBe(true);
    // Each commitment was anchored exactly once on chain.
    expect((await anchoredLogs(agent)).map((l) => l.args.sequenceEnd)).toEqual([2n, 4n, 5n]);
    expect(events.filter((e) => e.kind === "failure")).toEqual([]);
  });

  it("reports a stream the contract refuses, marks none of it anchored, and anchors the other streams", async () => {
    const a = await sealedStream(2);
    const b = await sealedStream(3);
    // Between the worker's read and its send, someone else anchors a different commitment for stream b.
    const forged = buildCommitment(nativeSha256, b.agent, undefined, [
      {
        sequenceNumber: 1n,
        eventSigningHash: new Uint8Array(32).fill(9),
        agentSignature: new Uint8Array(64),
      },
    ]);
    let raced = false;
    const events: AnchorWorkerEvent[] = [];
    const w = worker(events, {
      wrap: (chain) => ({
        ...chain,
        async estimate(items) {
          if (!raced) {
            raced = true;
            await ownerAnchor(forged);
          }
          return chain.estimate(items);
        },
      }),
    });
    await w.runOnce();
    const failure = events.find((e) => e.kind === "failure" && e.failure.reason === "SequenceGap");
    expect(failure?.kind === "failure" && failure.failure.reason).toBe("SequenceGap");
    expect(failure?.kind === "failure" && failure.failure.message).toMatch(
      /^the anchor contract refused: SequenceGap\(0x[0-9a-f]{64}, 0x[0-9a-f]{64}, 2, 1\)$/,
    );
    expect(failure?.kind === "failure" && failure.streams).toEqual([
      { tenantId: b.agent.tenantId, storeId: b.agent.storeId },
    ]);
    expect(await anchorRows(b.agent)).toEqual([]);
    expect((await store.streamFailure(b.agent))?.reason).toMatch(/^(SequenceGap|chain_conflict)$/);
    // The other stream went on in the same round.
    expect((await anchorRows(a.agent)).map((r) => r.sequence_end)).toEqual([2n]);
    // Next time round the worker reads the contract first and names the conflict; still nothing anchored.
    await new Promise((r) => setTimeout(r, 400));
    await w.runOnce();
    expect((await store.streamFailure(b.agent))?.reason).toBe("chain_conflict");
    expect((await store.streamFailure(b.agent))?.message).toMatch(
      /commitment 1..2: the contract's last end 1 falls inside it$/,
    );
    expect(await anchorRows(b.agent)).toEqual([]);
  });

  it("reports a submitter without funds and recovers once it is funded", async () => {
    const key = generatePrivateKey();
    const poor = privateKeyToAccount(key);
    const hash = await fx.wallet.writeContract({
      address: fx.address,
      abi: vesAnchorAbi,
      functionName: "setSubmitter",
      args: [poor.address, true],
    });
    await fx.client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    const { agent } = await sealedStream(2);
    const events: AnchorWorkerEvent[] = [];
    const w = worker(events, { key });
    await w.runOnce();
    const failure = events.find(
      (e) => e.kind === "failure" && e.streams.some((s) => s.tenantId === agent.tenantId),
    );
    expect(failure?.kind === "failure" && failure.failure.kind).toBe("insufficient_funds");
    expect(failure?.kind === "failure" && failure.failure.message).toMatch(
      /^the submitter cannot pay for gas/,
    );
    expect(failure?.kind === "failure" && failure.failure.message).not.toContain(fx.anvil.url);
    expect(await anchorRows(agent)).toEqual([]);
    expect((await store.streamFailure(agent))?.reason).toBe("insufficient_funds");
    await fx.rpc("anvil_setBalance", [poor.address, `0x${parseEther("1").toString(16)}`]);
    await new Promise((r) => setTimeout(r, 400)); // the slow retry pace (200 ms ± 50%)
    await w.runOnce();
    await w.runOnce();
    expect((await anchorRows(agent)).map((r) => `${r.sequence_end}:${r.status}`)).toEqual(["2:final"]);
    expect(await store.streamFailure(agent)).toBeUndefined();
  });

  it("answers the anchor RPCs with FAILED_PRECONDITION on a sequencer that does not anchor", async () => {
    const { agent } = await sealedStream(1);
    const anchors = createClient(AnchorService, testTransport(server.url));
    await expect(
      anchors.getAnchorStatus({
        tenantId: agent.tenantId,
        storeId: agent.storeId,
        selector: { selector: { case: "sequenceNumber", value: 1n } },
      }),
    ).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "this sequencer does not anchor commitments (ANCHOR_RPC_URL is not set)",
    });
  });

  it("npm run anchor -- deploy prints a deployed contract's address; lag shows each stream's ends", async () => {
    const run = async (args: string[], env: Record<string, string>) =>
      (
        await execFileAsync(process.execPath, ["--import", "tsx", "src/cli/anchor.ts", ...args], {
          cwd: REPO_ROOT,
          env: { ...process.env, ...env },
        })
      ).stdout;
    const [deployed, lag] = await Promise.all([
      run(["deploy", "--rpc", fx.anvil.url], { ANCHOR_SUBMITTER_KEY: ANVIL_DEV_KEY }),
      run(["lag"], {
        DATABASE_URL: db.url,
        ANCHOR_CHAIN_ID: String(fx.anvil.chainId),
        ANCHOR_CONTRACT_ADDRESS: fx.address,
      }),
    ]);
    expect(deployed).not.toContain(ANVIL_DEV_KEY.slice(2));
    const d = JSON.parse(deployed) as { address: `0x${string}`; chainId: number; owner: string };
    expect(d.chainId).toBe(fx.anvil.chainId);
    expect((await fx.client.getCode({ address: d.address }))?.length).toBeGreaterThan(1000);
    expect(
      await fx.client.readContract({
        address: d.address,
        abi: vesAnchorAbi,
        functionName: "submitters",
        args: [fx.owner.address],
      }),
    ).toBe(true);
    const rows = lag
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as { sealedEnd: string; finalEnd: string; eventsNotFinal: string; failure?: string },
      );
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(
      rows.some((r) => r.finalEnd === r.sealedEnd && r.eventsNotFinal === "0" && r.sealedEnd !== "0"),
    ).toBe(true);
    expect(rows.some((r) => r.failure === "chain_conflict")).toBe(true);
  });
});
