// End to end over gRPC: append, wait for sealing, fetch proofs and commitments, verify them with the SDK and
// with the stateless verify RPCs; unsealed events; receipt upgrades pushed on the Append stream.
import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import type { Receipt } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { type InclusionProof, ProofService } from "../gen/ves/sequencer/v1/proof_pb.js";
import {
  type AppendRequest,
  AppendRequestSchema,
  type AppendResponse,
  SequencerService,
} from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { verifyCheckpointSignature } from "../src/client/verifyCheckpointSignature.js";
import { verifyConsistency } from "../src/client/verifyConsistency.js";
import { verifyInclusionProof } from "../src/client/verifyInclusionProof.js";
import { verifyReceipt } from "../src/client/verifyReceipt.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

const BATCH = 8;
let db: TestDatabase;
let server: Sequencer;
let seq: Client<typeof SequencerService>;
let keys: Client<typeof KeyRegistryService>;
let proofs: Client<typeof ProofService>;
let sequencerKey: Uint8Array;

beforeAll(async () => {
  db = await createTestDatabase();
  // Sealed by count only (8 events), so a stream with fewer waiting stays unsealed for the whole test.
  server = await startTestSequencer(db.url, {
    COMMIT_MAX_EVENTS: String(BATCH),
    COMMIT_MAX_AGE_MS: "600000",
    COMMIT_POLL_MS: "20",
  });
  const transport = testTransport(server.url);
  seq = createClient(SequencerService, transport);
  keys = createClient(KeyRegistryService, transport);
  proofs = createClient(ProofService, transport);
  sequencerKey = server.publicKey;
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

async function newAgent(): Promise<TestAgent> {
  const agent = createAgent();
  await registerAgent(keys, agent);
  return agent;
}

async function append(
  agent: TestAgent,
  n: number,
): Promise<{ receipts: Receipt[]; signingHashes: Uint8Array[] }> {
  const events = Array.from({ length: n }, () => agent.event());
  const res = await seq.appendBatch({ batchId: crypto.randomUUID(), events: events.map(signedEventToProto) });
  const receipts = (res.result?.results ?? []).map((r) => {
    if (r.outcome.case !== "receipt") throw new Error(`event not accepted: ${r.outcome.case}`);
    return r.outcome.value;
  });
  return { receipts, signingHashes: events.map((e) => e.signingHash) };
}

async function sealedTo(agent: TestAgent, end: bigint): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await proofs.getSyncState({ tenantId: agent.tenantId, storeId: agent.storeId });
    if (s.sealedSequence >= end) return;
    if (Date.now() > deadline) throw new Error(`stream sealed to ${s.sealedSequence}, expected ${end}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rpcError(p: Promise<unknown>): Promise<{ code: Code; field: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (err === undefined) throw new Error("the call succeeded");
  return {
    code: err.code,
    field: err.findDetails(ErrorDetailSchema)[0]?.field ?? "",
    message: err.rawMessage,
  };
}

const flip = (b: Uint8Array, i = 0): Uint8Array => Uint8Array.from(b, (x, j) => (j === i ? x ^ 1 : x));

describe("inclusion proofs", () => {
  it("are available once an event is sealed and verify with the SDK and with VerifyInclusionProof", async () => {
    const agent = await newAgent();
    const { receipts, signingHashes } = await append(agent, BATCH);
    await sealedTo(agent, BigInt(BATCH));
    const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
    const receipt = receipts[2] as Receipt;
    const byId = await proofs.getInclusionProof({
      ...stream,
      selector: { case: "eventId", value: receipt.eventId },
    });
    const bySeq = await proofs.getInclusionProof({
      ...stream,
      selector: { case: "sequenceNumber", value: 3n },
    });
    expect(bySeq).toEqual(byId);
    const { proof, commitment } = byId;
    if (proof === undefined || commitment === undefined) throw new Error("incomplete response");
    expect(byId.receipt).toEqual(receipt);
    expect([proof.sequenceNumber, proof.leafIndex, proof.leafCount, proof.siblings.length]).toEqual([
      3n,
      2,
      8,
      3,
    ]);
    expect([commitment.sequenceStart, commitment.sequenceEnd, commitment.treeDepth]).toEqual([1n, 8n, 3]);

    // The SDK (pure JS) checks the proof, the checkpoint and the receipt together.
    expect(verifyInclusionProof(proof, { expectedRoot: commitment.merkleRoot })).toEqual({ valid: true });
    expect(verifyCheckpointSignature(commitment, sequencerKey)).toEqual({ valid: true });
    expect(
      verifyReceipt(receipt, sequencerKey, {
        expectedSigningHash: signingHashes[2] as Uint8Array,
        upgrade: { proof, checkpoint: commitment },
      }),
    ).toEqual({ valid: true });
    // And so does the server, statelessly.
    expect(await proofs.verifyInclusionProof({ proof, expectedRoot: commitment.merkleRoot })).toMatchObject({
      valid: true,
      reason: "",
    });
    expect(await proofs.verifyReceipt({ receipt, proof, checkpoint: commitment })).toMatchObject({
      valid: true,
    });

    // Wrong but well-formed: a verdict with a reason, from both.
    const tampered = {
      ...proof,
      siblings: [flip(proof.siblings[1] as Uint8Array), ...proof.siblings.slice(1)],
    };
    expect(verifyInclusionProof(tampered)).toMatchObject({ valid: false, reason: "path_mismatch" });
    expect(await proofs.verifyInclusionProof({ proof: tampered })).toMatchObject({
      valid: false,
      reason: "path_mismatch",
    });
    expect(
      await proofs.verifyReceipt({
        receipt: { ...receipt, sequenceNumber: 4n },
        proof,
        checkpoint: commitment,
      }),
    ).toMatchObject({ valid: false, reason: "receipt_hash_mismatch" });
    expect(
      await proofs.verifyReceipt({
        receipt,
        proof,
        checkpoint: { ...commitment, signature: flip(commitment.signature) },
      }),
    ).toMatchObject({ valid: false, reason: "bad_checkpoint_signature" });
    expect(await proofs.verifyReceipt({ receipt: { ...receipt, sequencerKeyId: "nope" } })).toMatchObject({
      valid: false,
      reason: "unknown_sequencer_key",
    });

    // Many at once: sealed ones in order, each commitment once, the rest listed.
    const many = await proofs.getInclusionProofs({ ...stream, sequenceNumbers: [8n, 3n, 5n, 3n, 99n] });
    expect(many.proofs.map((p) => p.sequenceNumber)).toEqual([3n, 5n, 8n]);
    expect(many.proofs[0]).toEqual(proof);
    expect(many.commitments).toEqual([commitment]);
    expect(many.unsealedSequenceNumbers).toEqual([99n]);
    for (const p of many.proofs)
      expect(verifyInclusionProof(p, { expectedRoot: commitment.merkleRoot })).toEqual({ valid: true });
    for (const sequenceNumbers of [[], Array.from({ length: 1001 }, (_, i) => BigInt(i + 1)), [0n]]) {
      expect(await rpcError(proofs.getInclusionProofs({ ...stream, sequenceNumbers }))).toMatchObject({
        code: Code.InvalidArgument,
        field: "sequence_numbers",
      });
    }

    // A root the caller does not expect is a failed precondition naming expected_root.
    const mismatch = await rpcError(
      proofs.getInclusionProof({
        ...stream,
        selector: { case: "sequenceNumber", value: 3n },
        expectedRoot: flip(commitment.merkleRoot),
      }),
    );
    expect(mismatch).toMatchObject({ code: Code.FailedPrecondition, field: "expected_root" });
  });

  it("refuse malformed input to the verify RPCs as InvalidArgument naming the field", async () => {
    const agent = await newAgent();
    await append(agent, BATCH);
    await sealedTo(agent, BigInt(BATCH));
    const res = await proofs.getInclusionProof({
      tenantId: agent.tenantId,
      storeId: agent.storeId,
      selector: { case: "sequenceNumber", value: 8n },
    });
    const proof = res.proof as InclusionProof;
    const cases: [Promise<unknown>, string][] = [
      [
        proofs.verifyInclusionProof({ proof: { ...proof, siblings: [new Uint8Array(31)] } }),
        "proof.siblings[0]",
      ],
      [
        proofs.verifyInclusionProof({
          proof: { ...proof, siblings: Array.from({ length: 65 }, () => new Uint8Array(32)) },
        }),
        "proof.siblings",
      ],
      [
        proofs.verifyInclusionProof({ proof: { ...proof, merkleRoot: new Uint8Array(0) } }),
        "proof.merkle_root",
      ],
      [proofs.verifyInclusionProof({}), "proof"],
      [proofs.verifyInclusionProof({ proof, expectedRoot: new Uint8Array(5) }), "expected_root"],
      [proofs.verifyReceipt({ receipt: res.receipt, proof }), "checkpoint"],
      [
        proofs.verifyConsistencyProof({ proof: { tenantId: agent.tenantId, storeId: "x" } }),
        "proof.store_id",
      ],
    ];
    for (const [call, field] of cases) {
      expect(await rpcError(call)).toMatchObject({ code: Code.InvalidArgument, field });
    }
  });

  it("answer FailedPrecondition for an event not sealed yet and NotFound for no event", async () => {
    const agent = await newAgent();
    const { receipts } = await append(agent, 3);
    const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
    const unsealed = await rpcError(
      proofs.getInclusionProof({
        ...stream,
        selector: { case: "eventId", value: (receipts[0] as Receipt).eventId },
      }),
    );
    expect(unsealed).toMatchObject({ code: Code.FailedPrecondition, field: "event_id" });
    expect(unsealed.message).toMatch(/not sealed in a commitment yet/);
    expect(
      await rpcError(proofs.getCommitment({ ...stream, selector: { case: "sequenceNumber", value: 2n } })),
    ).toMatchObject({ code: Code.FailedPrecondition, field: "sequence_number" });
    expect(
      await rpcError(
        proofs.getInclusionProof({ ...stream, selector: { case: "sequenceNumber", value: 4n } }),
      ),
    ).toMatchObject({ code: Code.NotFound });
    expect(
      await rpcError(
        proofs.getInclusionProof({ ...stream, selector: { case: "eventId", value: crypto.randomUUID() } }),
      ),
    ).toMatchObject({ code: Code.NotFound, field: "event_id" });
    expect(await rpcError(proofs.getInclusionProof({ ...stream }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "selector",
    });
    const state = await proofs.getSyncState(stream);
    expect([state.headSequence, state.sealedSequence, state.latestCommitment]).toEqual([3n, 0n, undefined]);
    expect(state.stateRoot).toEqual(new Uint8Array(32));
  });
});

describe("commitments", () => {
  it("are listed in pages, found by id or sequence, and chain consistently", async () => {
    const agent = await newAgent();
    const stream = { tenantId: agent.tenantId, storeId: agent.storeId };
    await append(agent, 3 * BATCH + 2);
    await sealedTo(agent, BigInt(3 * BATCH));
    const page1 = await proofs.listCommitments({ ...stream, pageSize: 2 });
    const page2 = await proofs.listCommitments({ ...stream, pageSize: 2, pageToken: page1.nextPageToken });
    expect(page1.nextPageToken).not.toBe("");
    expect(page2.nextPageToken).toBe("");
    const all = [...page1.commitments, ...page2.commitments];
    expect(all.map((c) => [c.sequenceStart, c.sequenceEnd])).toEqual([
      [1n, 8n],
      [9n, 16n],
      [17n, 24n],
    ]);
    const [first, second, third] = all as [(typeof all)[0], (typeof all)[0], (typeof all)[0]];
    for (const c of all) expect(verifyCheckpointSignature(c, sequencerKey)).toEqual({ valid: true });
    expect(
      (
        await proofs.getCommitment({
          ...stream,
          selector: { case: "commitmentId", value: second.commitmentId },
        })
      ).commitment,
    ).toEqual(second);
    expect(
      (await proofs.getCommitment({ ...stream, selector: { case: "sequenceNumber", value: 16n } }))
        .commitment,
    ).toEqual(second);
    const state = await proofs.getSyncState(stream);
    expect([state.headSequence, state.sealedSequence, state.latestCommitment]).toEqual([26n, 24n, third]);

    const { proof } = await proofs.getConsistencyProof({
      ...stream,
      fromCommitmentId: first.commitmentId,
      toCommitmentId: third.commitmentId,
    });
    if (proof === undefined) throw new Error("no proof");
    expect(proof.links).toHaveLength(2);
    const trusted = { from: first, to: third };
    expect(verifyConsistency(proof, trusted)).toEqual({ valid: true });
    expect(await proofs.verifyConsistencyProof({ proof })).toMatchObject({ valid: true });
    // From the genesis to the latest (empty to_commitment_id).
    const fromGenesis = (await proofs.getConsistencyProof({ ...stream })).proof;
    if (fromGenesis === undefined) throw new Error("no proof");
    expect(fromGenesis.links).toHaveLength(3);
    expect(verifyConsistency(fromGenesis, { to: third })).toEqual({ valid: true });
    // Tampered: a link dropped, or a proof that does not end at the checkpoint the client trusts.
    const dropped = { ...proof, links: proof.links.slice(1) };
    expect(await proofs.verifyConsistencyProof({ proof: dropped })).toMatchObject({
      valid: false,
      reason: "range_mismatch",
    });
    expect(verifyConsistency(proof, { from: first, to: second })).toMatchObject({ valid: false });
    expect(
      await rpcError(
        proofs.getConsistencyProof({
          ...stream,
          fromCommitmentId: third.commitmentId,
          toCommitmentId: first.commitmentId,
        }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, field: "from_commitment_id" });
  });
});

/** Runs one Append stream: sends `requests`, half-closes, and collects every response until the server ends it. */
async function appendStream(requests: AppendRequest[]): Promise<AppendResponse[]> {
  async function* send() {
    for (const r of requests) yield r;
  }
  const out: AppendResponse[] = [];
  for await (const res of seq.append(send())) out.push(res);
  return out;
}

describe("receipt upgrades", () => {
  it("push each appended event's proof and signed checkpoint on the Append stream once it is sealed", async () => {
    const agent = await newAgent();
    const events = Array.from({ length: BATCH }, () => agent.event());
    const batches = [events.slice(0, 5), events.slice(5)].map((es, i) =>
      create(AppendRequestSchema, {
        batchId: `b${i}`,
        events: es.map(signedEventToProto),
        receiptUpgrades: i === 0,
      }),
    );
    const responses = await appendStream(batches);
    const kinds = responses.map((r) => r.kind.case);
    expect(kinds.slice(0, 2)).toEqual(["batchResult", "batchResult"]);
    expect(kinds.slice(2).every((k) => k === "receiptUpgrade")).toBe(true);
    const receipts = new Map<string, Receipt>();
    for (const r of responses) {
      if (r.kind.case !== "batchResult") continue;
      for (const e of r.kind.value.results)
        if (e.outcome.case === "receipt") receipts.set(e.eventId, e.outcome.value);
    }
    let upgraded = 0;
    for (const r of responses) {
      if (r.kind.case !== "receiptUpgrade") continue;
      const { commitment, proofs: ps } = r.kind.value;
      if (commitment === undefined) throw new Error("upgrade without a checkpoint");
      for (const proof of ps) {
        const receipt = receipts.get(proof.eventId);
        if (receipt === undefined) throw new Error(`upgrade for an unknown event ${proof.eventId}`);
        expect(verifyReceipt(receipt, sequencerKey, { upgrade: { proof, checkpoint: commitment } })).toEqual({
          valid: true,
        });
        upgraded++;
      }
    }
    expect(upgraded).toBe(BATCH);

    // Replaying the first batch with upgrades: already sealed, so the upgrade follows at once.
    const replay = await appendStream([{ ...(batches[0] as AppendRequest), receiptUpgrades: true }]);
    expect(replay.map((r) => r.kind.case)).toEqual(["batchResult", "receiptUpgrade"]);
    const upgrade = replay[1]?.kind.value as { proofs: InclusionProof[] };
    expect(upgrade.proofs.map((p) => p.sequenceNumber)).toEqual([1n, 2n, 3n, 4n, 5n]);

    // Without the flag, the stream carries batch results only and ends when they are answered.
    const plain = await appendStream([
      create(AppendRequestSchema, { batchId: "c", events: [signedEventToProto(agent.event())] }),
    ]);
    expect(plain.map((r) => r.kind.case)).toEqual(["batchResult"]);
  });
});
