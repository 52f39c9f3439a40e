// The Node agent with `verifyThreads`, against a real in-process server: receipts verified in worker threads,
// appends settled in order; forged receipts (wrong key, signature bit flipped, fields changed on the wire)
// refused as on the event loop; a verification thread killed mid-work → verified on the event loop instead;
// close() and abort() end the threads. And the portable hook: a later batch verified first still settles after
// an earlier one.
import type { Worker } from "node:worker_threads";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import type { AppendResponse } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { createAgent as createPortableAgent, type SignatureCheck } from "../src/client/createAgent.js";
import { verifyReceipt } from "../src/client/verifyReceipt.js";
import { nativeSha256, sodiumEd25519 } from "../src/crypto/native.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, nodeCrypto, verifyPoolOf } from "../src/node/createAgent.js";
import {
  createAgent as createTestAgent,
  producerOptions,
  registerAgent,
  type TestAgent,
} from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let sequencerKey: Uint8Array;
let keys: ReturnType<typeof createClient<typeof KeyRegistryService>>;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
  keys = createClient(KeyRegistryService, testTransport(server.url));
  sequencerKey = server.publicKey;
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

function agentOptions(a: TestAgent, key: Uint8Array | Uint8Array[] = sequencerKey) {
  return producerOptions(a, key);
}

const event = (i: number) => ({
  entityType: "order",
  entityId: `o-${i}`,
  eventType: "order.created",
  payload: { i },
});

async function registered(): Promise<TestAgent> {
  const a = createTestAgent();
  await registerAgent(keys, a);
  return a;
}

/** A man in the middle that changes every `every`-th receipt of each batch answer (index 1, 1 + every, ...). */
function tamper(change: (r: { sequenceNumber: bigint; sequencerSignature: Uint8Array }) => void, every = 1) {
  const interceptor: Interceptor = (next) => async (req) => {
    const res = await next(req);
    if (!res.stream) return res;
    const message = (async function* () {
      for await (const m of res.message as AsyncIterable<AppendResponse>) {
        if (m.kind.case === "batchResult") {
          for (const [i, r] of m.kind.value.results.entries()) {
            if (r.outcome.case === "receipt" && r.outcome.value !== undefined && i % every === 1 % every) {
              change(r.outcome.value);
            }
          }
        }
        yield m;
      }
    })();
    return { ...res, message } as typeof res;
  };
  return createGrpcTransport({ baseUrl: server.url, interceptors: [interceptor] });
}

const verified = (r: { receipt: Parameters<typeof verifyReceipt>[0]; event: { signingHash: Uint8Array } }) =>
  verifyReceipt(r.receipt, sequencerKey, { expectedSigningHash: r.event.signingHash }).valid;

/** Resolves once every worker has exited; rejects after `ms`. */
function allExited(workers: readonly Worker[], ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = workers.length;
    if (left === 0) resolve();
    const timer = setTimeout(() => reject(new Error(`${left} verification threads still running`)), ms);
    for (const w of workers) {
      w.once("exit", () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
}

describe("verifyThreads", () => {
  it("verifies in two threads, many batches, and resolves every append in order with a valid receipt", async () => {
    const a = await registered();
    const agent = createAgent({
      url: server.url,
      ...agentOptions(a),
      verifyThreads: 2,
      batchSize: 100,
      lingerMs: 2,
    });
    const order: number[] = [];
    const n = 3000;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        agent.append(event(i)).then((r) => {
          order.push(i);
          return r;
        }),
      ),
    );
    const pool = verifyPoolOf(agent);
    expect(pool?.workers()).toHaveLength(2);
    const running = [...(pool?.workers() ?? [])];
    const exited = allExited(running);
    await agent.close();
    await exited; // close() leaves no verification thread running
    expect(pool?.workers()).toHaveLength(0);

    expect(order).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(results.map((r) => r.receipt.sequenceNumber)).toEqual(
      Array.from({ length: n }, (_, i) => BigInt(i + 1)),
    );
    expect(results.every(verified)).toBe(true);
    expect(agent.stats()).toMatchObject({ acknowledged: n, failed: 0 });
    expect(agent.stats().batches).toBeGreaterThanOrEqual(n / 100);
    // Verified by the threads, not on the event loop.
    expect(pool?.stats()).toMatchObject({ fallbackChecks: 0, deaths: 0, inFlight: 0 });
  });

  it("refuses forged receipts as on the event loop: a wrong key, a flipped signature bit, a changed field", async () => {
    const a = await registered();
    const wrongKey = sodiumEd25519.getPublicKey(new Uint8Array(32).fill(9));
    const fooled = createAgent({ url: server.url, ...agentOptions(a, wrongKey), verifyThreads: 2 });
    const e1 = await fooled.append(event(1)).catch((e: unknown) => e);
    expect(e1).toMatchObject({ reason: "bad_receipt", code: "bad_signature" });
    expect((e1 as Error).message).toContain("the receipt does not verify (bad_signature)");
    await fooled.close();

    // Every third receipt of each answer gets one bit of its signature flipped: those appends alone fail.
    const forged = createAgent({
      transport: tamper((r) => {
        r.sequencerSignature = Uint8Array.from(r.sequencerSignature);
        (r.sequencerSignature as Uint8Array)[5] = ((r.sequencerSignature[5] as number) ^ 1) & 0xff;
      }, 3),
      ...agentOptions(a),
      verifyThreads: 2,
      batchSize: 30,
      lingerMs: 1000, // batches of exactly 30: the tampered indexes are known
    });
    const outcomes = await Promise.allSettled(Array.from({ length: 90 }, (_, i) => forged.append(event(i))));
    await forged.close();
    const refused = outcomes.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
    expect(refused).toEqual(Array.from({ length: 30 }, (_, k) => 1 + 3 * k));
    for (const i of refused) {
      expect((outcomes[i] as PromiseRejectedResult).reason).toMatchObject({
        reason: "bad_receipt",
        code: "bad_signature",
      });
    }
    for (const o of outcomes) if (o.status === "fulfilled") expect(verified(o.value)).toBe(true);
    expect(verifyPoolOf(forged)?.stats().fallbackChecks).toBe(0);

    // The sequence number moved up on the wire: refused by the receipt-hash check before any signature.
    const moved = createAgent({
      transport: tamper((r) => {
        r.sequenceNumber += 1n;
      }),
      ...agentOptions(a),
      verifyThreads: 2,
    });
    const e3 = await moved.append(event(2)).catch((e: unknown) => e);
    expect(e3).toMatchObject({ reason: "bad_receipt", code: "receipt_hash_mismatch" });
    await moved.close();
  });

  it("accepts a receipt under the second pinned key (a rotation), verified in the threads", async () => {
    const a = await registered();
    const wrongKey = sodiumEd25519.getPublicKey(new Uint8Array(32).fill(7));
    const agent = createAgent({
      url: server.url,
      ...agentOptions(a, [wrongKey, sequencerKey]),
      verifyThreads: 1,
    });
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => agent.append(event(i))));
    await agent.close();
    expect(rs.every(verified)).toBe(true);
    expect(verifyPoolOf(agent)?.stats().fallbackChecks).toBe(0);
  });

  it("verifies on the event loop when a thread dies with work in hand, and never resolves unverified", async () => {
    const a = await registered();
    const wrongKey = sodiumEd25519.getPublicKey(new Uint8Array(32).fill(9));
    for (const key of [sequencerKey, wrongKey]) {
      const agent = createAgent({
        url: server.url,
        ...agentOptions(a, key),
        verifyThreads: 2,
        batchSize: 200,
      });
      const pool = verifyPoolOf(agent);
      const pending = Promise.allSettled(Array.from({ length: 1000 }, (_, i) => agent.append(event(i))));
      // The first answer's checks are posted to the threads (which are still starting): kill them all.
      while ((pool?.stats().inFlight ?? 0) === 0) await new Promise((r) => setTimeout(r, 1));
      await Promise.all(pool?.workers().map((w) => w.terminate()) ?? []);
      const outcomes = await pending;
      await agent.close();
      const stats = pool?.stats();
      expect(stats?.deaths).toBe(2);
      expect(stats?.fallbackChecks).toBeGreaterThan(0);
      if (key === sequencerKey) {
        expect(outcomes.every((o) => o.status === "fulfilled" && verified(o.value))).toBe(true);
        const seqs = outcomes.map(
          (o) => (o as PromiseFulfilledResult<{ receipt: { sequenceNumber: bigint } }>).value,
        );
        const first = seqs[0]?.receipt.sequenceNumber ?? 0n;
        expect(seqs.map((r) => r.receipt.sequenceNumber)).toEqual(
          Array.from({ length: 1000 }, (_, i) => first + BigInt(i)),
        );
      } else {
        // The fallback verifies just as strictly: a receipt under an unpinned key is still refused.
        for (const o of outcomes) {
          expect(o).toMatchObject({
            status: "rejected",
            reason: { reason: "bad_receipt", code: "bad_signature" },
          });
        }
      }
    }
  });

  it("agents asking for the same count share one pool, whose threads end with the last agent", async () => {
    const [a, b] = [await registered(), await registered()];
    const first = createAgent({ url: server.url, ...agentOptions(a), verifyThreads: 2 });
    const second = createAgent({ url: server.url, ...agentOptions(b), verifyThreads: 2 });
    const other = createAgent({ url: server.url, ...agentOptions(b), verifyThreads: 1 });
    expect(verifyPoolOf(first)).toBe(verifyPoolOf(second));
    expect(verifyPoolOf(other)).not.toBe(verifyPoolOf(first));
    await Promise.all([first.append(event(1)), second.append(event(1)), other.append(event(2))]);
    const pool = verifyPoolOf(first);
    const running = [...(pool?.workers() ?? [])];
    expect(running).toHaveLength(2);
    await first.close();
    expect(pool?.workers()).toHaveLength(2); // still the second agent's
    expect((await second.append(event(2))).receipt.sequenceNumber).toBe(3n);
    const exited = allExited(running);
    await second.close();
    await exited;
    await other.close();
    expect(verifyPoolOf(other)?.workers()).toHaveLength(0);
    expect(pool?.stats().fallbackChecks).toBe(0);
  });

  it("abort() ends the threads; 0 (the default) starts none; other counts are refused", async () => {
    const a = await registered();
    const agent = createAgent({ url: server.url, ...agentOptions(a), verifyThreads: 2 });
    await agent.append(event(1));
    const running = [...(verifyPoolOf(agent)?.workers() ?? [])];
    expect(running).toHaveLength(2);
    const exited = allExited(running);
    agent.abort();
    await exited;

    const plain = createAgent({ url: server.url, ...agentOptions(a) });
    expect(verifyPoolOf(plain)).toBeUndefined();
    await plain.close();
    for (const bad of [-1, 1.5, 17]) {
      expect(() => createAgent({ url: server.url, ...agentOptions(a), verifyThreads: bad })).toThrow(
        expect.objectContaining({ reason: "invalid_argument", field: "verifyThreads" }),
      );
    }
  });
});

describe("the portable verifyBatch hook", () => {
  it("settles batches in answer order even when a later batch's signatures are verified first", async () => {
    const a = await registered();
    const crypto = nodeCrypto();
    let calls = 0;
    const batchSizes: number[] = [];
    const verifyBatch = async (checks: readonly SignatureCheck[]): Promise<boolean[]> => {
      batchSizes.push(checks.length);
      // The first batch's verdict comes last: 300 ms after the others'.
      const delay = calls++ === 0 ? 300 : 0;
      await new Promise((r) => setTimeout(r, delay));
      return checks.map((c) => crypto.ed25519.verify(c.signature, c.message, c.publicKey));
    };
    const agent = createPortableAgent({
      transport: testTransport(server.url),
      ...agentOptions(a),
      crypto: { sha256: nativeSha256, ed25519: crypto.ed25519 },
      verifyBatch,
      batchSize: 10,
      lingerMs: 1000, // full batches only: one hook call per batch of 10
    });
    const order: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        agent.append(event(i)).then((r) => {
          order.push(i);
          return r;
        }),
      ),
    );
    await agent.close();
    expect(batchSizes).toEqual([10, 10, 10, 10, 10]); // one call per batch answer
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(results.every(verified)).toBe(true);
  });

  it("verifies with `crypto` when the hook fails or miscounts; a hook's false is bad_signature", async () => {
    const a = await registered();
    for (const [hook, refused] of [
      [async () => Promise.reject(new Error("pool down")), false],
      [async () => [true], false],
      [async (checks: readonly SignatureCheck[]) => checks.map(() => false), true],
    ] as const) {
      const agent = createPortableAgent({
        transport: testTransport(server.url),
        ...agentOptions(a),
        verifyBatch: hook,
        batchSize: 5,
      });
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => agent.append(event(i))));
      await agent.close();
      for (const o of outcomes) {
        if (refused) expect(o).toMatchObject({ status: "rejected", reason: { code: "bad_signature" } });
        else expect(o.status === "fulfilled" && verified(o.value)).toBe(true);
      }
    }
  });
});
