// Sealing commitments against the real PostgreSQL: thresholds, chunking and chaining; the stream lock; and the
// database's own refusal of double sealing, overlaps, gaps and broken chains even when the lock is bypassed.
import { createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { inclusionProofsOf } from "../src/app/getInclusionProofs.js";
import type { CheckpointSigner, CommitmentStore, EventSelector, SealDeps } from "../src/app/ports.js";
import { sealCommitment } from "../src/app/sealCommitment.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { bytesToHex } from "../src/crypto/bytes.js";
import { buildMerkleTree, inclusionProof, leafHash } from "../src/crypto/merkle.js";
import { nativeSha256, sodiumEd25519 } from "../src/crypto/native.js";
import { buildCommitment } from "../src/domain/buildCommitment.js";
import type { Commitment } from "../src/domain/commitment.js";
import type { StreamKey } from "../src/domain/event.js";
import { createSql } from "../src/infra/pg/createSql.js";
import { createPgCommitmentStore } from "../src/infra/pg/pgCommitmentStore.js";
import { flattenTree } from "../src/infra/pg/treeNodes.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { expectValidChain as expectValidChainOf } from "./support/chain.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let sql: postgres.Sql;
let storeA: CommitmentStore;
let storeB: CommitmentStore;
let pools: postgres.Sql[] = [];
let seq: ReturnType<typeof createClient<typeof SequencerService>>;
let keys: ReturnType<typeof createClient<typeof KeyRegistryService>>;

const seed = new Uint8Array(32).fill(3);
const signer: CheckpointSigner = {
  sequencerId: "6d1c5b0e-2a4f-4c3b-9d8e-7f6a5b4c3d2e",
  keyId: "test-key",
  sign: sodiumEd25519.createSigner(seed),
};
const publicKey = sodiumEd25519.getPublicKey(seed);
const policy = { maxEvents: 4, maxAgeMs: 500 };

function deps(store: CommitmentStore, now = () => new Date()): SealDeps {
  return {
    commitments: store,
    sha256: nativeSha256,
    signer,
    clock: { now },
    newId: () => crypto.randomUUID(),
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  // Events come in through the API; nothing seals them but these tests.
  server = await startTestSequencer(db.url, { COMMIT_WORKER: "false" });
  sql = postgres(db.url, { max: 2, onnotice: () => {}, types: { bigint: postgres.BigInt } });
  // Two pools: two workers, as two instances would be.
  pools = [createSql(db.url, { max: 2 }), createSql(db.url, { max: 2 })];
  storeA = createPgCommitmentStore(pools[0] as postgres.Sql);
  storeB = createPgCommitmentStore(pools[1] as postgres.Sql);
  const transport = testTransport(server.url);
  seq = createClient(SequencerService, transport);
  keys = createClient(KeyRegistryService, transport);
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  for (const p of pools) await p.end({ timeout: 1 });
  await server?.stop();
  await db?.drop();
});

/** A pool of its own that counts the statements containing `marker`. */
function countingSql(marker: string): { sql: postgres.Sql; count: () => number } {
  let n = 0;
  const sql = postgres(db.url, {
    max: 4,
    types: { bigint: postgres.BigInt },
    onnotice: () => {},
    debug: (_conn, query) => {
      if (query.includes(marker)) n++;
    },
  });
  return { sql, count: () => n };
}

async function streamWith(n: number): Promise<StreamKey> {
  const agent = createAgent();
  await registerAgent(keys, agent);
  for (let done = 0; done < n; done += 500) {
    const events = Array.from({ length: Math.min(500, n - done) }, () => signedEventToProto(agent.event()));
    await seq.appendBatch({ batchId: crypto.randomUUID(), events });
  }
  return { tenantId: agent.tenantId, storeId: agent.storeId };
}

async function commitmentsOf(stream: StreamKey): Promise<Commitment[]> {
  return storeA.list(stream, 0n, 10_000);
}

const expectValidChain = (stream: StreamKey, head: bigint) =>
  expectValidChainOf(sql, stream, head, publicKey);

describe("sealCommitment", () => {
  it("seals at the count threshold in full chunks, then the rest at the age threshold, chained from 1", async () => {
    const stream = await streamWith(10);
    let now = new Date();
    const d = deps(storeA, () => now);
    const first = await sealCommitment(d, stream, policy);
    expect(
      first.kind === "sealed" && [first.commitment.sequenceStart, first.commitment.sequenceEnd, first.more],
    ).toEqual([1n, 4n, true]);
    const second = await sealCommitment(d, stream, policy);
    expect(second.kind === "sealed" && second.commitment.sequenceEnd).toBe(8n);
    const early = await sealCommitment(d, stream, policy);
    expect(early.kind).toBe("wait");
    expect(await commitmentsOf(stream)).toHaveLength(2);
    now = new Date(now.getTime() + policy.maxAgeMs + 1000);
    const late = await sealCommitment(d, stream, policy);
    expect(
      late.kind === "sealed" && [late.commitment.sequenceStart, late.commitment.sequenceEnd, late.more],
    ).toEqual([9n, 10n, false]);
    expect((await sealCommitment(d, stream, policy)).kind).toBe("idle");
    await expectValidChain(stream, 10n);
  });

  it("answers busy while another worker holds the stream, and seals nothing twice", async () => {
    const stream = await streamWith(8);
    let release: () => void = () => {};
    const held = storeA.withSealLock(stream, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 50));
    expect(await sealCommitment(deps(storeB), stream, policy)).toEqual({ kind: "busy" });
    release();
    expect(await held).toEqual({ acquired: true, value: undefined });
    // Both workers now race to the end; every range is sealed once.
    const outcomes = await Promise.all(
      [storeA, storeB, storeA, storeB].map(async (s) => {
        const kinds: string[] = [];
        for (;;) {
          const o = await sealCommitment(deps(s), stream, policy);
          kinds.push(o.kind);
          if (o.kind === "idle") return kinds;
        }
      }),
    );
    expect(outcomes.flat().filter((k) => k === "sealed")).toHaveLength(2);
    await expectValidChain(stream, 8n);
  });

  it("gives the same proofs per event (siblings from the stored tree) as per commitment (tree rebuilt from events)", async () => {
    const stream = await streamWith(7);
    await sealCommitment(deps(storeA), stream, { maxEvents: 5, maxAgeMs: 0 });
    await sealCommitment(deps(storeA), stream, { maxEvents: 5, maxAgeMs: 0 });
    const proofDeps = { commitments: storeA, sha256: nativeSha256 };
    // Dense (a receipt upgrade's shape): commitments rebuilt from their events. Sparse: siblings read per event.
    const dense = await inclusionProofsOf(proofDeps, stream, [1n, 2n, 3n, 4n, 5n, 6n, 7n, 99n]);
    const sparse = await inclusionProofsOf(proofDeps, stream, [1n, 2n, 3n, 4n, 5n, 6n, 7n, 1_000_000n]);
    expect(dense.map((g) => g.proofs.map((p) => p.sequenceNumber))).toEqual([
      [1n, 2n, 3n, 4n, 5n],
      [6n, 7n],
    ]);
    // Same values; byte fields compared as hex (one path yields Buffers, the other plain Uint8Arrays).
    const norm = (v: unknown): unknown =>
      v instanceof Uint8Array
        ? bytesToHex(v)
        : Array.isArray(v)
          ? v.map(norm)
          : v !== null && typeof v === "object" && !(v instanceof Date)
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]))
            : v;
    expect(norm(sparse)).toEqual(norm(dense));
    for (const g of dense) {
      const tree = buildMerkleTree(
        nativeSha256,
        g.proofs.map((p) => leafHash(nativeSha256, p)),
      );
      expect(bytesToHex(tree.root)).toBe(bytesToHex(g.commitment.merkleRoot));
      for (const [i, p] of g.proofs.entries()) {
        expect(p.siblings.map(bytesToHex)).toEqual(inclusionProof(tree, i).map(bytesToHex));
        const one = await storeA.inclusion(stream, { eventId: p.eventId });
        if (one.kind !== "sealed") throw new Error(`event ${p.sequenceNumber} is ${one.kind}`);
        expect(one.event.siblings.map(bytesToHex)).toEqual(p.siblings.map(bytesToHex));
      }
    }
    // A dense request for one event still rebuilds its whole commitment and proves just that event.
    const single = await inclusionProofsOf(proofDeps, stream, [3n]);
    expect(single.map((g) => g.proofs.map((p) => p.leafIndex))).toEqual([[2]]);
  });

  it("keeps stored trees in a bounded cache: a cached tree is not read again, an evicted one is", async () => {
    const stream = await streamWith(10);
    await sealCommitment(deps(storeA), stream, { maxEvents: 5, maxAgeMs: 0 });
    await sealCommitment(deps(storeA), stream, { maxEvents: 5, maxAgeMs: 0 });
    const { sql: counted, count: treeReads } = countingSql("tree_nodes");
    try {
      // Room for one tree: 5 leaves pad to 8, so 15 nodes of 32 bytes.
      const store = createPgCommitmentStore(counted, { treeCacheBytes: 15 * 32 });
      const reads: number[] = [];
      for (const n of [1n, 2n, 6n, 7n, 1n]) {
        const got = await store.inclusion(stream, { sequenceNumber: n });
        const want = await storeA.inclusion(stream, { sequenceNumber: n });
        if (got.kind !== "sealed" || want.kind !== "sealed") throw new Error(`event ${n} is not sealed`);
        expect(got.event.siblings.map(bytesToHex)).toEqual(want.event.siblings.map(bytesToHex));
        expect(got.commitment.commitmentId).toBe(want.commitment.commitmentId);
        reads.push(treeReads());
      }
      // 1: read; 2: same tree, cached; 6: the other tree, read (evicting the first); 7: cached; 1: read again.
      expect(reads).toEqual([1, 1, 2, 2, 3]);
    } finally {
      await counted.end({ timeout: 1 });
    }
  });

  it("answers concurrent single-event lookups together in a few queries, each exactly as alone", async () => {
    const a = await streamWith(6);
    const b = await streamWith(6);
    for (const s of [a, b]) await sealCommitment(deps(storeA), s, { maxEvents: 4, maxAgeMs: 0 });
    const { sql: counted, count: lookups } = countingSql("with ordinality");
    try {
      const store = createPgCommitmentStore(counted);
      const first = await storeA.inclusion(b, { sequenceNumber: 2n });
      if (first.kind !== "sealed") throw new Error("event 2 of b is not sealed");
      // Sealed, unsealed (5, 6), past the head (7), by event id, another stream's event id (not found here).
      const asks: [StreamKey, EventSelector][] = [
        ...[1n, 2n, 3n, 4n, 5n, 6n, 7n].flatMap((n): [StreamKey, EventSelector][] => [
          [a, { sequenceNumber: n }],
          [b, { sequenceNumber: n }],
        ]),
        [b, { eventId: first.event.eventId }],
        [a, { eventId: first.event.eventId }],
      ];
      const together = await Promise.all(asks.map(([s, sel]) => store.inclusion(s, sel)));
      expect(lookups()).toBeLessThanOrEqual(4);
      const alone = [];
      for (const [s, sel] of asks) alone.push(await storeA.inclusion(s, sel));
      const norm = (v: unknown): unknown =>
        JSON.parse(
          JSON.stringify(v, (_k, x) =>
            typeof x === "bigint" ? `${x}` : x instanceof Uint8Array ? bytesToHex(x) : x,
          ),
        );
      expect(norm(together)).toEqual(norm(alone));
      expect(together.map((r) => r.kind)).toEqual([
        ...["sealed", "sealed", "sealed", "sealed", "sealed", "sealed", "sealed", "sealed"],
        ...["unsealed", "unsealed", "unsealed", "unsealed", "not_found", "not_found"],
        "sealed",
        "not_found",
      ]);
    } finally {
      await counted.end({ timeout: 1 });
    }
  });

  it("refuses, as data loss, to serve proofs of a log whose events no longer match their commitment", async () => {
    const stream = await streamWith(4);
    await sealCommitment(deps(storeA), stream, { maxEvents: 4, maxAgeMs: 0 });
    await sql`
      update events set agent_signature = ${Buffer.alloc(64, 9)}
      where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId} and sequence_number = 2`;
    const proofDeps = { commitments: storeA, sha256: nativeSha256 };
    for (const seqs of [
      [1n, 2n, 3n],
      [2n, 1_000n],
    ]) {
      const err = await inclusionProofsOf(proofDeps, stream, seqs).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: "DomainError", reason: "data_loss" });
    }
  });
});

describe("the commitments table", () => {
  async function insertRaw(stream: StreamKey, c: ReturnType<typeof buildCommitment>): Promise<unknown> {
    const b = (u: Uint8Array) => Buffer.from(u);
    try {
      await sql`
        insert into commitments (
          commitment_id, tenant_id, store_id, sequence_start, sequence_end, leaf_count, padded_leaf_count, tree_depth,
          merkle_root, prev_state_root, new_state_root, sequencer_id, sequencer_key_id, checkpoint_hash, signature,
          committed_at, tree_nodes)
        values (${crypto.randomUUID()}, ${stream.tenantId}, ${stream.storeId}, ${String(c.sequenceStart)},
          ${String(c.sequenceEnd)}, ${c.leafCount}, ${c.paddedLeafCount}, ${c.treeDepth}, ${b(c.merkleRoot)},
          ${b(c.prevStateRoot)}, ${b(c.newStateRoot)}, ${signer.sequencerId}, ${signer.keyId}, ${b(c.checkpointHash)},
          ${b(signer.sign(c.checkpointHash))}, now(), ${b(flattenTree(c.tree))})`;
      return undefined;
    } catch (err) {
      return err;
    }
  }

  const leavesOf = async (stream: StreamKey, from: bigint, to: bigint) =>
    (
      await sql<{ sequence_number: bigint; event_signing_hash: Uint8Array; agent_signature: Uint8Array }[]>`
        select sequence_number, event_signing_hash, agent_signature from events
        where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}
          and sequence_number between ${String(from)} and ${String(to)} order by sequence_number`
    ).map((e) => ({
      sequenceNumber: e.sequence_number,
      eventSigningHash: e.event_signing_hash,
      agentSignature: e.agent_signature,
    }));

  const code = (err: unknown) => err as { code?: string; constraint_name?: string } | undefined;

  it("refuses a second commitment for a range, an overlap, a gap, a broken chain and a range past the head", async () => {
    const stream = await streamWith(12);
    const first = buildCommitment(nativeSha256, stream, undefined, await leavesOf(stream, 1n, 4n));
    expect(await insertRaw(stream, first)).toBeUndefined();
    // The same range again, and a shorter one from the same start.
    expect(code(await insertRaw(stream, first))?.code).toBe("23505");
    const shorter = buildCommitment(nativeSha256, stream, undefined, await leavesOf(stream, 1n, 2n));
    expect(code(await insertRaw(stream, shorter))?.code).toBe("23505");
    // A commitment starting inside the first one: it would chain to a commitment ending at 2, which does not exist.
    const overlap = buildCommitment(
      nativeSha256,
      stream,
      { sequenceEnd: 2n, newStateRoot: shorter.newStateRoot },
      await leavesOf(stream, 3n, 6n),
    );
    expect(code(await insertRaw(stream, overlap))).toMatchObject({
      code: "23514",
      constraint_name: "commitments_chain",
    });
    // A gap after the first one.
    const gap = buildCommitment(
      nativeSha256,
      stream,
      { sequenceEnd: 5n, newStateRoot: first.newStateRoot },
      await leavesOf(stream, 6n, 8n),
    );
    expect(code(await insertRaw(stream, gap))).toMatchObject({
      code: "23514",
      constraint_name: "commitments_chain",
    });
    // The right start with the wrong previous state root.
    const broken = buildCommitment(
      nativeSha256,
      stream,
      { sequenceEnd: 4n, newStateRoot: first.merkleRoot },
      await leavesOf(stream, 5n, 8n),
    );
    expect(code(await insertRaw(stream, broken))).toMatchObject({
      code: "23514",
      constraint_name: "commitments_chain",
    });
    // Past the head: the 12 events plus made-up ones.
    const leaves = await leavesOf(stream, 5n, 12n);
    const past = buildCommitment(nativeSha256, stream, first, [
      ...leaves,
      { ...(leaves[0] as (typeof leaves)[number]), sequenceNumber: 13n },
    ]);
    expect(code(await insertRaw(stream, past))).toMatchObject({
      code: "23514",
      constraint_name: "commitments_chain",
    });
    // The right next one is accepted.
    const next = buildCommitment(nativeSha256, stream, first, leaves);
    expect(await insertRaw(stream, next)).toBeUndefined();
    await expectValidChain(stream, 12n);
  });

  it("refuses to change or delete a commitment", async () => {
    const stream = await streamWith(2);
    await sealCommitment(deps(storeA), stream, { maxEvents: 2, maxAgeMs: 0 });
    const update =
      await sql`update commitments set merkle_root = ${Buffer.alloc(32)} where tenant_id = ${stream.tenantId}`.catch(
        (e: unknown) => e,
      );
    expect(code(update)).toMatchObject({ code: "23514", constraint_name: "commitments_immutable" });
    const del = await sql`delete from commitments where tenant_id = ${stream.tenantId}`.catch(
      (e: unknown) => e,
    );
    expect(code(del)).toMatchObject({ code: "23514", constraint_name: "commitments_immutable" });
    expect(await commitmentsOf(stream)).toHaveLength(1);
  });
});
