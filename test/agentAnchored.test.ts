// The SDK producer's anchored tier (createAgent's anchorUpgrades) on a real anvil, PostgreSQL and gRPC: every
// event's `anchored` promise is fulfilled with an anchor verified down from its receipt (on chain with a viem
// client or an RPC URL, or against the server's upgrade); an anchored upgrade altered on the wire, or forged by a
// server that anchors nothing, is refused with a typed error naming what did not verify; and a stream lost before
// the anchor came still fulfils it (fetched with GetAnchorStatus), as does a batch sent on the new stream.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import type { AppendResponse } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { AnchoredEvent } from "../src/client/anchorWaits.js";
import type { AppendResult } from "../src/client/createAgent.js";
import { readAnchoredCommitment } from "../src/client/verifyAnchor.js";
import { hex32 } from "../src/domain/anchor.js";
import type { Sequencer } from "../src/main.js";
import { type CreateNodeAgentOptions, createAgent } from "../src/node/createAgent.js";
import {
  createAgent as createTestAgent,
  producerOptions,
  registerAgent,
  type TestAgent,
} from "./support/agent.js";
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

const event = (i: number) => ({
  entityType: "order",
  entityId: `o-${i}`,
  eventType: "order.created",
  payload: { i },
});

async function registered(server: Sequencer): Promise<TestAgent> {
  const a = createTestAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(server.url)), a);
  return a;
}

function options(a: TestAgent, server: Sequencer) {
  return {
    ...producerOptions(a, server.publicKey),
    sealTimeoutMs: 20_000,
    anchorTimeoutMs: 30_000,
  } satisfies Partial<CreateNodeAgentOptions>;
}

/** A gRPC transport whose Append responses pass through `edit` (which may drop one by returning undefined). */
function tamperingTransport(
  server: Sequencer,
  edit: (m: AppendResponse) => AppendResponse | AppendResponse[] | undefined,
) {
  const tamper: Interceptor = (next) => async (req) => {
    const res = await next(req);
    if (!res.stream) return res;
    const message = (async function* () {
      for await (const m of res.message as AsyncIterable<AppendResponse>) {
        const out = edit(m);
        if (out === undefined) continue;
        for (const o of Array.isArray(out) ? out : [out]) yield o;
      }
    })();
    return { ...res, message } as typeof res;
  };
  return createGrpcTransport({ baseUrl: server.url, interceptors: [tamper] });
}

/** Settles every promise and returns the outcomes. */
async function outcomes<T>(ps: (Promise<T> | undefined)[]): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(ps.map((p) => p ?? Promise.reject(new Error("no promise"))));
}

/** Checks each anchor against the chain independently of the SDK: the tx, its block, the contract's record. */
async function expectOnChain(results: AppendResult[], anchored: AnchoredEvent[]): Promise<void> {
  for (const [i, a] of anchored.entries()) {
    const r = results[i] as AppendResult;
    expect(a.proof.eventId).toBe(r.event.eventId);
    expect(a.checkpoint.sequenceStart).toBeLessThanOrEqual(r.receipt.sequenceNumber);
    expect(a.checkpoint.sequenceEnd).toBeGreaterThanOrEqual(r.receipt.sequenceNumber);
    expect(a.chainId).toBe(BigInt(fx.anvil.chainId));
    expect(a.contractAddress).toBe(fx.address.toLowerCase());
    expect(a.confirmations).toBe(3);
    const tx = await fx.client.getTransactionReceipt({ hash: a.txHash });
    expect(tx.blockNumber).toBe(a.blockNumber);
    expect(tx.blockHash).toBe(a.blockHash);
    const record = await readAnchoredCommitment(a.checkpoint, { client: fx.client, address: fx.address });
    expect(record).toMatchObject({
      blockNumber: a.blockNumber,
      sequenceEnd: a.checkpoint.sequenceEnd,
      merkleRoot: hex32(a.checkpoint.merkleRoot),
    });
  }
}

describe("the producer's anchored tier", () => {
  it("fulfils `anchored` for every event with a verified anchor (on chain via rpcUrl, or against the upgrade), and close() waits for them", async () => {
    const [a, b] = await Promise.all([registered(anchoring), registered(anchoring)]);
    const onChain = createAgent({
      url: anchoring.url,
      ...options(a, anchoring),
      anchorUpgrades: { rpcUrl: fx.anvil.url, address: fx.address, chainId: fx.anvil.chainId },
    });
    const byUpgrade = createAgent({ url: anchoring.url, ...options(b, anchoring), anchorUpgrades: true });
    // 9 events each, COMMIT_MAX_EVENTS=4: at least three commitments per stream.
    const [ra, rb] = await Promise.all([
      Promise.all(Array.from({ length: 9 }, (_, i) => onChain.append(event(i)))),
      Promise.all(Array.from({ length: 9 }, (_, i) => byUpgrade.append(event(i)))),
    ]);
    const settled = new Set<Promise<unknown>>();
    for (const r of [...ra, ...rb]) {
      expect(r.sealed).toBeDefined(); // anchorUpgrades implies receiptUpgrades
      void r.anchored?.then(
        () => settled.add(r.anchored as Promise<unknown>),
        () => settled.add(r.anchored as Promise<unknown>),
      );
    }
    // close() returns only after every anchored promise is settled.
    await Promise.all([onChain.close(), byUpgrade.close()]);
    await Promise.resolve();
    expect(settled.size).toBe(18);

    const anchoredA = await Promise.all(ra.map((r) => r.anchored as Promise<AnchoredEvent>));
    const anchoredB = await Promise.all(rb.map((r) => r.anchored as Promise<AnchoredEvent>));
    expect(new Set(anchoredA.map((x) => x.checkedOn))).toEqual(new Set(["chain"]));
    for (const x of anchoredA) expect(x.depth).toBeGreaterThanOrEqual(3n);
    expect(new Set(anchoredB.map((x) => x.checkedOn))).toEqual(new Set(["server"]));
    expect(new Set(anchoredA.map((x) => x.checkpoint.commitmentId)).size).toBeGreaterThanOrEqual(3);
    await expectOnChain(ra, anchoredA);
    await expectOnChain(rb, anchoredB);
    // The sealed promise and the anchored one agree on the proof and checkpoint.
    for (const [i, r] of ra.entries()) {
      const s = await r.sealed;
      expect(s?.checkpoint.commitmentId).toBe(anchoredA[i]?.checkpoint.commitmentId);
    }
  });

  it("refuses an anchored upgrade altered on the wire, naming what did not verify; the sealed tier still verifies", async () => {
    // The anchored commitment's Merkle root changed: the upgrade no longer names the sealed checkpoint.
    const a = await registered(anchoring);
    const rootChanged = createAgent({
      transport: tamperingTransport(anchoring, (m) => {
        if (m.kind.case === "anchoredUpgrade") {
          const c = m.kind.value.commitment;
          if (c !== undefined) c.merkleRoot = c.merkleRoot.map((x, i) => (i === 0 ? x ^ 1 : x));
        }
        return m;
      }),
      ...options(a, anchoring),
      anchorUpgrades: true,
    });
    const r1 = await Promise.all(Array.from({ length: 5 }, (_, i) => rootChanged.append(event(i))));
    const [o1, s1] = await Promise.all([
      outcomes(r1.map((r) => r.anchored)),
      outcomes(r1.map((r) => r.sealed)),
    ]);
    await rootChanged.close();
    for (const o of o1) {
      expect(o.status).toBe("rejected");
      expect((o as PromiseRejectedResult).reason).toMatchObject({
        name: "AgentError",
        reason: "bad_receipt",
        code: "merkle_root_mismatch",
      });
    }
    expect(s1.every((s) => s.status === "fulfilled")).toBe(true);

    // The block changed: the contract, read with the caller's client, records the commitment elsewhere.
    const b = await registered(anchoring);
    const blockChanged = createAgent({
      transport: tamperingTransport(anchoring, (m) => {
        if (m.kind.case === "anchoredUpgrade") m.kind.value.blockNumber -= 1n;
        return m;
      }),
      ...options(b, anchoring),
      anchorUpgrades: { client: fx.client, address: fx.address },
    });
    const r2 = await Promise.all(Array.from({ length: 3 }, (_, i) => blockChanged.append(event(i))));
    const o2 = await outcomes(r2.map((r) => r.anchored));
    await blockChanged.close();
    for (const o of o2) {
      expect((o as PromiseRejectedResult).reason).toMatchObject({
        reason: "bad_receipt",
        code: "block_mismatch",
      });
    }

    // Another contract than the one pinned.
    const c = await registered(anchoring);
    const otherContract = createAgent({
      transport: tamperingTransport(anchoring, (m) => {
        if (m.kind.case === "anchoredUpgrade") m.kind.value.contractAddress = new Uint8Array(20).fill(7);
        return m;
      }),
      ...options(c, anchoring),
      anchorUpgrades: { address: fx.address },
    });
    const r3 = await otherContract.append(event(1));
    await expect(r3.anchored).rejects.toMatchObject({ reason: "bad_receipt", code: "contract_mismatch" });
    await otherContract.close();
  });

  it("refuses an anchor forged by a server that anchors nothing: the contract has no record of it", async () => {
    const a = await registered(plain);
    const forged = createAgent({
      // After each sealed upgrade, an anchored upgrade naming that very checkpoint, on the real contract.
      transport: tamperingTransport(plain, (m) => {
        if (m.kind.case !== "receiptUpgrade") return m;
        const fake: AppendResponse = {
          $typeName: "ves.sequencer.v1.AppendResponse",
          kind: {
            case: "anchoredUpgrade",
            value: {
              $typeName: "ves.sequencer.v1.AnchoredUpgrade",
              commitment: m.kind.value.commitment,
              chainId: BigInt(fx.anvil.chainId),
              contractAddress: Buffer.from(fx.address.slice(2), "hex"),
              txHash: new Uint8Array(32).fill(1),
              blockNumber: 1n,
              blockHash: new Uint8Array(32).fill(2),
              confirmations: 1,
            },
          },
        };
        return [m, fake];
      }),
      ...options(a, plain),
      anchorUpgrades: { client: fx.client, address: fx.address },
    });
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => forged.append(event(i))));
    const o = await outcomes(results.map((r) => r.anchored));
    await forged.close();
    for (const x of o) {
      expect((x as PromiseRejectedResult).reason).toMatchObject({
        reason: "bad_receipt",
        code: "not_anchored",
      });
    }
    // Without a client the forgery is consistent with the signed checkpoint: the upgrade alone cannot tell.
    // (That is why `checkedOn` says "server" there; the test above shows the inconsistent ones refused.)
  });

  it("on a server that does not anchor: close() does not hang, and ignored `anchored` promises fail quietly with `unavailable`", async () => {
    const a = await registered(plain);
    const agent = createAgent({ url: plain.url, ...options(a, plain), anchorUpgrades: { pollMs: 100 } });
    // Nobody listens to these promises until after close(): a rejection must not be reported as unhandled.
    const results = await Promise.all(Array.from({ length: 3 }, (_, i) => agent.append(event(i))));
    const started = Date.now();
    await agent.close();
    expect(Date.now() - started).toBeLessThan(10_000); // well under anchorTimeoutMs (30 s)
    for (const r of results) {
      await expect(r.sealed).resolves.toMatchObject({ proof: { eventId: r.event.eventId } });
      await expect(r.anchored).rejects.toMatchObject({
        name: "AgentError",
        reason: "unavailable",
        code: "FailedPrecondition",
        eventId: r.event.eventId,
      });
    }
  });

  it("fulfils `anchored` across a stream lost before the anchor came: fetched for the lost stream's events, pushed on the new one", async () => {
    const a = await registered(anchoring);
    const pushed = { anchored: 0, cut: 0 };
    let cutNext = true;
    const cutting: Interceptor = (next) => async (req) => {
      const ac = new AbortController();
      const res = await next({ ...req, signal: AbortSignal.any([req.signal, ac.signal]) });
      if (!res.stream || req.method.name !== "Append") return res;
      const cut = cutNext;
      cutNext = false;
      const message = (async function* () {
        for await (const m of res.message as AsyncIterable<AppendResponse>) {
          if (m.kind.case === "anchoredUpgrade") pushed.anchored++;
          yield m;
          if (cut && m.kind.case === "receiptUpgrade") {
            // Lost right after the first sealed upgrade: no anchored upgrade of this stream arrives.
            pushed.cut++;
            ac.abort();
            throw new ConnectError("connection lost (test)", Code.Unavailable);
          }
        }
      })();
      return { ...res, message } as typeof res;
    };
    const disconnects: string[] = [];
    const agent = createAgent({
      transport: createGrpcTransport({ baseUrl: anchoring.url, interceptors: [cutting] }),
      ...options(a, anchoring),
      anchorUpgrades: { pollMs: 200 },
      reconnect: { initialDelayMs: 20 },
      onConnection: (e) => {
        if (e.type === "disconnected") disconnects.push(e.error.rawMessage);
      },
    });
    const first = await Promise.all(Array.from({ length: 6 }, (_, i) => agent.append(event(i))));
    const firstAnchored = await Promise.all(first.map((r) => r.anchored as Promise<AnchoredEvent>));
    expect(pushed).toEqual({ anchored: 0, cut: 1 });
    expect(disconnects).toEqual(["connection lost (test)"]);
    await expectOnChain(first, firstAnchored);

    // The agent reconnects with the next batch; that stream is not cut and pushes its anchors.
    const second = await Promise.all(Array.from({ length: 3 }, (_, i) => agent.append(event(10 + i))));
    const secondAnchored = await Promise.all(second.map((r) => r.anchored as Promise<AnchoredEvent>));
    await agent.close();
    expect(pushed.anchored).toBeGreaterThanOrEqual(1);
    await expectOnChain(second, secondAnchored);
    expect(agent.stats()).toMatchObject({ acknowledged: 9, failed: 0, reconnects: 1 });
  });
});
