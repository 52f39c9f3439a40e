// The anchored tier of receipt upgrades on the Append stream, on a real anvil and PostgreSQL: with
// anchor_upgrades, every event gets its sealed upgrade and then its commitment's anchored upgrade, each checked by
// the SDK down to the contract (verifyReceipt with the anchor, verifyAnchor); without the flag, or on a server
// that does not anchor, no anchored upgrade is sent.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Receipt } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import type { ReceiptUpgrade } from "../gen/ves/sequencer/v1/proof_pb.js";
import {
  type AnchoredUpgrade,
  type AppendRequest,
  AppendRequestSchema,
  type AppendResponse,
  SequencerService,
} from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { readAnchoredCommitment, verifyAnchor } from "../src/client/verifyAnchor.js";
import { type AnchorOfReceipt, verifyReceipt } from "../src/client/verifyReceipt.js";
import { hex32 } from "../src/domain/anchor.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { type AnchoredPair, startAnchoredPair } from "./support/anchoredPair.js";
import type { AnchorChainFixture } from "./support/anvil.js";
import { testTransport } from "./support/sequencer.js";

let pair: AnchoredPair | undefined;
let fx: AnchorChainFixture;
let anchoring: Sequencer;
let plain: Sequencer;

beforeAll(async () => {
  pair = await startAnchoredPair();
  ({ fx, anchoring, plain } = pair);
});

afterAll(() => pair?.stop());

/** Runs one Append stream: sends `requests`, half-closes, and collects every response until the server ends it. */
async function appendStream(server: Sequencer, requests: AppendRequest[]): Promise<AppendResponse[]> {
  const seq = createClient(SequencerService, testTransport(server.url));
  async function* send() {
    for (const r of requests) yield r;
  }
  const out: AppendResponse[] = [];
  for await (const res of seq.append(send())) out.push(res);
  return out;
}

async function newAgent(server: Sequencer): Promise<TestAgent> {
  const agent = createAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(server.url)), agent);
  return agent;
}

function batches(agent: TestAgent, sizes: number[], flags: Partial<AppendRequest>): AppendRequest[] {
  return sizes.map((n, i) =>
    create(AppendRequestSchema, {
      batchId: `b${i}-${crypto.randomUUID()}`,
      events: Array.from({ length: n }, () => signedEventToProto(agent.event())),
      ...flags,
    }),
  );
}

function split(responses: AppendResponse[]) {
  const receipts = new Map<string, Receipt>();
  const sealed: ReceiptUpgrade[] = [];
  const anchored: AnchoredUpgrade[] = [];
  for (const r of responses) {
    if (r.kind.case === "batchResult") {
      for (const e of r.kind.value.results)
        if (e.outcome.case === "receipt") receipts.set(e.eventId, e.outcome.value);
    } else if (r.kind.case === "receiptUpgrade") {
      sealed.push(r.kind.value);
    } else if (r.kind.case === "anchoredUpgrade") {
      anchored.push(r.kind.value);
    }
  }
  return { receipts, sealed, anchored, kinds: responses.map((r) => r.kind.case) };
}

describe("anchored receipt upgrades", () => {
  it("push, after each event's sealed upgrade, its commitment's anchor once final; the SDK checks each down to the contract", async () => {
    const agent = await newAgent(anchoring);
    // 7 events, COMMIT_MAX_EVENTS=4: at least two commitments.
    const responses = await appendStream(anchoring, batches(agent, [4, 3], { anchorUpgrades: true }));
    const { receipts, sealed, anchored, kinds } = split(responses);
    expect(receipts.size).toBe(7);
    expect(sealed.flatMap((u) => u.proofs).length).toBe(7);
    const commitmentIds = new Set(sealed.map((u) => u.commitment?.commitmentId));
    expect(commitmentIds.size).toBeGreaterThanOrEqual(2);
    expect(new Set(anchored.map((a) => a.commitment?.commitmentId))).toEqual(commitmentIds);
    // Each anchored upgrade follows the sealed upgrade of its commitment.
    for (const a of anchored) {
      const at = responses.findIndex(
        (r) =>
          r.kind.case === "anchoredUpgrade" &&
          r.kind.value.commitment?.commitmentId === a.commitment?.commitmentId,
      );
      const sealedAt = responses.findIndex(
        (r) =>
          r.kind.case === "receiptUpgrade" &&
          r.kind.value.commitment?.commitmentId === a.commitment?.commitmentId,
      );
      expect(sealedAt).toBeGreaterThanOrEqual(0);
      expect(at).toBeGreaterThan(sealedAt);
    }
    expect(kinds.filter((k) => k === "anchoredUpgrade").length).toBe(anchored.length);

    const byCommitment = new Map(anchored.map((a) => [a.commitment?.commitmentId, a]));
    for (const u of sealed) {
      const checkpoint = u.commitment;
      if (checkpoint === undefined) throw new Error("upgrade without a checkpoint");
      const a = byCommitment.get(checkpoint.commitmentId);
      if (a === undefined) throw new Error(`no anchored upgrade for ${checkpoint.commitmentId}`);
      expect(a.chainId).toBe(BigInt(fx.anvil.chainId));
      expect(hex32(a.contractAddress)).toBe(fx.address.toLowerCase());
      expect(a.confirmations).toBe(3);
      const tx = await fx.client.getTransactionReceipt({ hash: hex32(a.txHash) });
      expect(tx.blockNumber).toBe(a.blockNumber);
      expect(tx.blockHash).toBe(hex32(a.blockHash));
      const address = hex32(a.contractAddress);
      expect(
        await verifyAnchor(checkpoint, { client: fx.client, address, confirmations: a.confirmations }),
      ).toMatchObject({ valid: true, final: true, blockNumber: a.blockNumber });
      for (const proof of u.proofs) {
        const receipt = receipts.get(proof.eventId);
        if (receipt === undefined) throw new Error(`upgrade for an unknown event ${proof.eventId}`);
        // One call: receipt → proof → checkpoint → anchor, read from the chain.
        expect(
          await verifyReceipt(receipt, anchoring.publicKey, {
            upgrade: { proof, checkpoint },
            anchor: {
              client: fx.client,
              address,
              blockNumber: a.blockNumber,
              confirmations: a.confirmations,
            },
          }),
        ).toMatchObject({ valid: true, blockNumber: a.blockNumber });
      }
    }

    // The pure path, with the contract's record fetched by the caller: a wrong block or a record of other roots
    // fails; so does a checkpoint deeper than the chain.
    const u = sealed[0] as ReceiptUpgrade;
    const checkpoint = u.commitment as NonNullable<ReceiptUpgrade["commitment"]>;
    const proof = u.proofs[0] as ReceiptUpgrade["proofs"][number];
    const receipt = receipts.get(proof.eventId) as Receipt;
    const a = byCommitment.get(checkpoint.commitmentId) as AnchoredUpgrade;
    const onChain = await readAnchoredCommitment(checkpoint, { client: fx.client, address: fx.address });
    const pure = (anchor: Omit<AnchorOfReceipt, "client">) =>
      verifyReceipt(receipt, anchoring.publicKey, {
        upgrade: { proof, checkpoint },
        anchor: { onChain, blockNumber: a.blockNumber, ...anchor },
      });
    expect(pure({})).toEqual({ valid: true, blockNumber: a.blockNumber });
    expect(pure({ blockNumber: a.blockNumber + 1n })).toMatchObject({
      valid: false,
      reason: "block_mismatch",
    });
    expect(
      pure({
        onChain: onChain === undefined ? undefined : { ...onChain, merkleRoot: hex32(new Uint8Array(32)) },
      }),
    ).toMatchObject({ valid: false, reason: "merkle_root_mismatch" });
    expect(pure({ onChain: undefined })).toMatchObject({ valid: false, reason: "not_anchored" });
    expect(
      await verifyReceipt(receipt, anchoring.publicKey, {
        upgrade: { proof, checkpoint },
        anchor: { client: fx.client, address: fx.address, confirmations: 1_000_000 },
      }),
    ).toMatchObject({ valid: false, reason: "not_final" });
  });

  it("are not sent without anchor_upgrades (receipt_upgrades alone keeps its sealed tier only)", async () => {
    const agent = await newAgent(anchoring);
    const { sealed, kinds } = split(
      await appendStream(anchoring, batches(agent, [3], { receiptUpgrades: true })),
    );
    expect(sealed.flatMap((u) => u.proofs).length).toBe(3);
    expect(kinds).not.toContain("anchoredUpgrade");
  });

  it("are not sent by a server that does not anchor, and the stream still ends after its sealed upgrades", async () => {
    const agent = await newAgent(plain);
    const started = Date.now();
    const { sealed, kinds } = split(await appendStream(plain, batches(agent, [3], { anchorUpgrades: true })));
    expect(sealed.flatMap((u) => u.proofs).length).toBe(3);
    expect(kinds).not.toContain("anchoredUpgrade");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
