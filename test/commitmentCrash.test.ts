// Several instances on one database, one of them killed in the middle of a commitment: the chain still runs
// from 1 to the head with each range sealed once and every state root recomputing from its predecessor, and a
// client on an instance without a worker still gets its receipt upgrades (found by polling).
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../gen/ves/sequencer/v1/proof_pb.js";
import {
  AppendRequestSchema,
  type AppendResponse,
  SequencerService,
} from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { verifyReceipt } from "../src/client/verifyReceipt.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { expectValidChain } from "./support/chain.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import {
  type SequencerProcess,
  spawnSequencer,
  startTestSequencer,
  testIdentity,
  testTransport,
} from "./support/sequencer.js";

const identity = testIdentity();
const commitEnv = { COMMIT_MAX_EVENTS: "40", COMMIT_MAX_AGE_MS: "100", COMMIT_POLL_MS: "20" };
let db: TestDatabase;
let sql: postgres.Sql;
const inProcess: Sequencer[] = [];
const children: SequencerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) await c.stop();
  for (const s of inProcess) await s.stop();
  await sql?.end({ timeout: 1 });
  await db?.drop();
});

const clients = (url: string) => {
  const t = testTransport(url);
  return {
    seq: createClient(SequencerService, t),
    keys: createClient(KeyRegistryService, t),
    proofs: createClient(ProofService, t),
  };
};

async function appendSome(c: ReturnType<typeof clients>, agent: TestAgent, batches: number, size: number) {
  for (let i = 0; i < batches; i++) {
    const events = Array.from({ length: size }, () => signedEventToProto(agent.event()));
    const res = await c.seq.appendBatch({ batchId: crypto.randomUUID(), events });
    expect(res.result?.acceptedCount).toBe(size);
  }
}

it("keeps one contiguous chain per stream through a worker killed mid-commitment and concurrent workers", async () => {
  // B serves the API without a worker; A's worker kills its process with its first commitment inserted but
  // not committed (COMMIT_FAULT), holding the stream lock at that moment.
  const b = await startTestSequencer(db.url, { ...identity, ...commitEnv, COMMIT_WORKER: "false" });
  inProcess.push(b);
  const a = await spawnSequencer(db.url, { ...identity, ...commitEnv, COMMIT_FAULT: "exit_before_commit" });
  children.push(a);
  const viaB = clients(b.url);
  const agents = [createAgent(), createAgent(), createAgent()];
  for (const agent of agents) await registerAgent(viaB.keys, agent);
  for (const agent of agents) await appendSome(viaB, agent, 1, 25);
  const exit = await new Promise<NodeJS.Signals | null>((resolve) => {
    if (a.child.signalCode !== null) resolve(a.child.signalCode);
    a.child.once("exit", (_code, signal) => resolve(signal));
  });
  expect(exit).toBe("SIGKILL");
  expect(a.output()).toContain("COMMIT_FAULT=exit_before_commit");
  const [{ n } = { n: -1 }] = await sql<{ n: number }[]>`select count(*)::int as n from commitments`;
  expect(n, "the killed worker's commitment was never committed").toBe(0);

  // A restarts without the fault (C), and a second worker (D) runs beside it; ingest continues on B and C while
  // they seal. A client on B asks for receipt upgrades: B has no worker, so it learns of commitments by polling.
  const c = await spawnSequencer(db.url, { ...identity, ...commitEnv });
  children.push(c);
  const d = await startTestSequencer(db.url, { ...identity, ...commitEnv });
  inProcess.push(d);
  const viaC = clients(c.url);
  const upgradeAgent = agents[0] as TestAgent;
  const upgradeEvents = Array.from({ length: 30 }, () => upgradeAgent.event());
  const upgradesDone = (async () => {
    const out: AppendResponse[] = [];
    async function* requests() {
      yield create(AppendRequestSchema, {
        batchId: "upgrades",
        events: upgradeEvents.map(signedEventToProto),
        receiptUpgrades: true,
      });
    }
    for await (const r of viaB.seq.append(requests())) out.push(r);
    return out;
  })();
  await Promise.all(
    agents.flatMap((agent) => [appendSome(viaB, agent, 4, 30), appendSome(viaC, agent, 4, 30)]),
  );

  // Every event is sealed within a few commitment intervals.
  const heads = new Map<TestAgent, bigint>();
  const deadline = Date.now() + 20_000;
  for (const agent of agents) {
    for (;;) {
      const s = await viaB.proofs.getSyncState({ tenantId: agent.tenantId, storeId: agent.storeId });
      if (s.headSequence > 0n && s.sealedSequence === s.headSequence) {
        heads.set(agent, s.headSequence);
        break;
      }
      if (Date.now() > deadline) throw new Error(`sealed ${s.sealedSequence} of ${s.headSequence}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  let total = 0;
  for (const agent of agents) {
    const head = heads.get(agent) as bigint;
    expect(head).toBe(agent === upgradeAgent ? 25n + 240n + 30n : 25n + 240n);
    total += await expectValidChain(
      sql,
      { tenantId: agent.tenantId, storeId: agent.storeId },
      head,
      b.publicKey,
    );
  }
  // Commitments cover at most 40 events, so there are at least ceil(265 / 40) per stream.
  expect(total).toBeGreaterThanOrEqual(3 * 7);

  // The receipt upgrades reached the client on B, and check out against the receipts.
  const responses = await upgradesDone;
  const batch = responses[0];
  if (batch?.kind.case !== "batchResult") throw new Error("no batch result first");
  const receipts = new Map(
    batch.kind.value.results.flatMap((r) =>
      r.outcome.case === "receipt" ? [[r.eventId, r.outcome.value]] : [],
    ),
  );
  expect(receipts.size).toBe(30);
  let upgraded = 0;
  for (const r of responses.slice(1)) {
    if (r.kind.case !== "receiptUpgrade" || r.kind.value.commitment === undefined)
      throw new Error("not an upgrade");
    for (const proof of r.kind.value.proofs) {
      const receipt = receipts.get(proof.eventId);
      if (receipt === undefined) throw new Error(`no receipt for ${proof.eventId}`);
      const upgrade = { proof, checkpoint: r.kind.value.commitment };
      expect(verifyReceipt(receipt, b.publicKey, { upgrade })).toEqual({ valid: true });
      upgraded++;
    }
  }
  expect(upgraded).toBe(30);
});
