// The agent key lifecycle and API keys against a real server: rotation with an overlap, the hash-chained
// append-only audit log, per-credential rate limits, and credentials checked on every message of a stream.

import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyService } from "../gen/ves/sequencer/v1/api_key_pb.js";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import { type Event, RejectionReason } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService, KeyStatus } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import {
  type AppendRequest,
  type AppendResponse,
  SequencerService,
} from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { proofOfPossession } from "../src/client/proofOfPossession.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { nativeSha256 } from "../src/crypto/native.js";
import { type AuditEntry, findBrokenAuditLink } from "../src/domain/auditLog.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, serverCrypto, type TestAgent } from "./support/agent.js";
import { createTestApiKey } from "./support/auth.js";
import { batchResultOf } from "./support/batchResult.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let sql: postgres.Sql;
let admin: Transport;
let keys: Client<typeof KeyRegistryService>;
let apiKeys: Client<typeof ApiKeyService>;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
  admin = testTransport(server.url);
  keys = createClient(KeyRegistryService, admin);
  apiKeys = createClient(ApiKeyService, admin);
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await server?.stop();
  await db?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function appendOne(transport: Transport, event: Event) {
  const res = await createClient(SequencerService, transport).appendBatch({ batchId: "b", events: [event] });
  const r = res.result?.results[0];
  return r?.outcome.case === "rejection" ? r.outcome.value.reason : r?.outcome.case;
}

async function errorOf(p: Promise<unknown>): Promise<ConnectError | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
}

function rotateRequest(agent: TestAgent, next: TestAgent, oldValidTo?: Date) {
  return {
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    keyId: agent.keyId,
    newKeyId: next.keyId,
    newPublicKey: next.publicKey,
    newProofOfPossession: proofOfPossession(next.publicKey, next, serverCrypto),
    ...(oldValidTo === undefined ? {} : { oldValidTo: timestampFromDate(oldValidTo) }),
  };
}

describe("rotation", () => {
  it("accepts the old and the new key inside the overlap, and the old one no longer after its valid_to", async () => {
    const old = createAgent();
    await registerAgent(keys, old);
    const next = createAgent({
      tenantId: old.tenantId,
      storeId: old.storeId,
      agentId: old.agentId,
      keyId: 2,
    });
    // Long enough that a rotation and two appends fit in it on a loaded machine.
    const overlapEnds = new Date(Date.now() + 5_000);
    const rotated = await keys.rotateAgentKey(rotateRequest(old, next, overlapEnds));
    expect(rotated.oldKey?.validTo).toEqual(timestampFromDate(overlapEnds));
    expect(rotated.newKey?.keyId).toBe(2);
    expect(rotated.newKey?.status).toBe(KeyStatus.ACTIVE);

    expect(await appendOne(admin, signedEventToProto(old.event()))).toBe("receipt");
    expect(await appendOne(admin, signedEventToProto(next.event()))).toBe("receipt");
    expect(Date.now(), "the overlap must still be running for this check to mean anything").toBeLessThan(
      overlapEnds.getTime(),
    );

    await sleep(overlapEnds.getTime() - Date.now() + 50);
    expect(await appendOne(admin, signedEventToProto(old.event()))).toBe(RejectionReason.KEY_EXPIRED);
    expect(await appendOne(admin, signedEventToProto(next.event()))).toBe("receipt");
    const listed = await keys.listAgentKeys({ tenantId: old.tenantId, agentId: old.agentId });
    expect(listed.keys.map((k) => [k.keyId, k.status])).toEqual([
      [1, KeyStatus.EXPIRED],
      [2, KeyStatus.ACTIVE],
    ]);
  });

  it("keeps the old key valid without old_valid_to, and refuses what would extend or resurrect a key", async () => {
    const old = createAgent();
    await registerAgent(keys, old, { validTo: new Date(Date.now() + 3_600_000) });
    const next = createAgent({
      tenantId: old.tenantId,
      storeId: old.storeId,
      agentId: old.agentId,
      keyId: 2,
    });
    const tooLate = await errorOf(
      keys.rotateAgentKey(rotateRequest(old, next, new Date(Date.now() + 7_200_000))),
    );
    expect(tooLate?.code).toBe(Code.InvalidArgument);
    expect(tooLate?.findDetails(ErrorDetailSchema)[0]?.field).toBe("old_valid_to");
    const same = await errorOf(keys.rotateAgentKey({ ...rotateRequest(old, next), newKeyId: old.keyId }));
    expect(same?.code).toBe(Code.InvalidArgument);

    await keys.rotateAgentKey(rotateRequest(old, next));
    expect(await appendOne(admin, signedEventToProto(old.event()))).toBe("receipt");
    expect(await appendOne(admin, signedEventToProto(next.event()))).toBe("receipt");
    expect((await errorOf(keys.rotateAgentKey(rotateRequest(old, next))))?.code).toBe(Code.AlreadyExists);

    await keys.revokeAgentKey({ tenantId: old.tenantId, agentId: old.agentId, keyId: 1, reason: "lost" });
    const third = createAgent({ tenantId: old.tenantId, agentId: old.agentId, keyId: 3 });
    expect((await errorOf(keys.rotateAgentKey(rotateRequest(old, third))))?.code).toBe(
      Code.FailedPrecondition,
    );
    const missing = createAgent({ tenantId: old.tenantId, agentId: old.agentId, keyId: 9 });
    expect((await errorOf(keys.rotateAgentKey({ ...rotateRequest(missing, third) })))?.code).toBe(
      Code.NotFound,
    );
  });
});

describe("key audit log", () => {
  async function auditLog(tenantId: string): Promise<AuditEntry[]> {
    const res = await keys.listKeyAuditLog({ tenantId });
    return res.entries.map((e) => ({
      tenantId: e.tenantId,
      seq: e.seq,
      at: new Date(Number(e.at?.seconds ?? 0n) * 1000 + Math.floor((e.at?.nanos ?? 0) / 1e6)),
      actor: e.actor,
      action: e.action,
      subject: e.subject,
      content: e.content,
      prevHash: e.prevHash,
      hash: e.hash,
    }));
  }

  it("records every registration, rotation and revocation in a per-tenant hash chain that verifies", async () => {
    const a = createAgent();
    await registerAgent(keys, a);
    const b = createAgent({ tenantId: a.tenantId, agentId: a.agentId, keyId: 2 });
    await keys.rotateAgentKey(rotateRequest(a, b));
    await keys.revokeAgentKey({ tenantId: a.tenantId, agentId: a.agentId, keyId: 1, reason: "rotated out" });
    await keys.revokeAgentKey({ tenantId: a.tenantId, agentId: a.agentId, keyId: 1, reason: "again" }); // no-op
    const k = await createTestApiKey(admin, { tenantId: a.tenantId, perms: ["admin"] });
    await apiKeys.revokeApiKey({ tenantId: a.tenantId, prefix: k.prefix });
    // A change made by that tenant's own admin key is recorded with it as the actor.
    const tenantAdmin = await createTestApiKey(admin, { tenantId: a.tenantId, perms: ["admin"] });
    const c = createAgent({ tenantId: a.tenantId, agentId: a.agentId, keyId: 3 });
    await registerAgent(createClient(KeyRegistryService, testTransport(server.url, tenantAdmin.secret)), c);
    const other = createAgent();
    await registerAgent(keys, other);

    const log = await auditLog(a.tenantId);
    expect(log.map((e) => [e.seq, e.action, e.subject, e.actor])).toEqual([
      [1n, "agent_key.registered", `agent_key:${a.agentId}/1`, "bootstrap_admin"],
      [2n, "agent_key.rotated", `agent_key:${a.agentId}/1`, "bootstrap_admin"],
      [3n, "agent_key.revoked", `agent_key:${a.agentId}/1`, "bootstrap_admin"],
      [4n, "api_key.created", `api_key:${k.prefix}`, "bootstrap_admin"],
      [5n, "api_key.revoked", `api_key:${k.prefix}`, "bootstrap_admin"],
      [6n, "api_key.created", `api_key:${tenantAdmin.prefix}`, "bootstrap_admin"],
      [7n, "agent_key.registered", `agent_key:${a.agentId}/3`, `api_key:${tenantAdmin.prefix}`],
    ]);
    expect(findBrokenAuditLink(nativeSha256, log)).toBeUndefined();
    expect(JSON.parse(log[1]?.content ?? "{}").details).toMatchObject({ old_key_id: 1, new_key_id: 2 });
    // The other tenant's chain is its own, from seq 1 and the zero hash.
    const otherLog = await auditLog(other.tenantId);
    expect(otherLog.map((e) => e.seq)).toEqual([1n]);
    expect(findBrokenAuditLink(nativeSha256, otherLog)).toBeUndefined();

    // Any edit breaks the chain at that entry.
    const edited = log.map((e, i) =>
      i === 3 ? { ...e, content: e.content.replace('"admin"', '"read"') } : e,
    );
    expect(findBrokenAuditLink(nativeSha256, edited)?.seq).toBe(4n);
    const dropped = log.filter((_, i) => i !== 2);
    expect(findBrokenAuditLink(nativeSha256, dropped)?.seq).toBe(4n);
  });

  it("is append-only in the database: UPDATE, DELETE and TRUNCATE are refused", async () => {
    const a = createAgent();
    await registerAgent(keys, a);
    await expect(
      sql`update key_audit_log set actor = 'someone' where tenant_id = ${a.tenantId}`,
    ).rejects.toThrow(/append-only/);
    await expect(sql`delete from key_audit_log where tenant_id = ${a.tenantId}`).rejects.toThrow(
      /append-only/,
    );
    await expect(sql`truncate key_audit_log`).rejects.toThrow(/append-only/);
    expect((await auditLog(a.tenantId)).length).toBe(1);
  });
});

describe("API keys", () => {
  it("shows the secret once, stores only its hash, and lists keys without secrets", async () => {
    const tenantId = crypto.randomUUID();
    const created = await apiKeys.createApiKey({ tenantId, name: "ci", permissions: [1, 2], rateLimit: 5 });
    expect(created.secret).toMatch(/^ves_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.secret.startsWith(`${created.apiKey?.prefix}_`)).toBe(true);
    const [row] = await sql<
      { key_hash: Uint8Array }[]
    >`select key_hash from api_keys where prefix = ${created.apiKey?.prefix ?? ""}`;
    expect(
      Buffer.from(row?.key_hash ?? []).equals(Buffer.from(nativeSha256(Buffer.from(created.secret)))),
    ).toBe(true);
    const dump = JSON.stringify(await sql`select * from api_keys where tenant_id = ${tenantId}`);
    expect(dump).not.toContain(created.secret.slice(17));
    const listed = await apiKeys.listApiKeys({ tenantId });
    expect(listed.apiKeys.map((k) => [k.prefix, k.name, k.rateLimit])).toEqual([
      [created.apiKey?.prefix, "ci", 5],
    ]);
    expect(JSON.stringify(listed, (_, v) => (typeof v === "bigint" ? `${v}` : v))).not.toContain(
      created.secret.slice(17),
    );
    await apiKeys.revokeApiKey({ tenantId, prefix: created.apiKey?.prefix ?? "" });
    expect((await apiKeys.listApiKeys({ tenantId })).apiKeys).toEqual([]);
    expect(
      (await apiKeys.listApiKeys({ tenantId, includeRevoked: true })).apiKeys[0]?.revokedAt,
    ).toBeDefined();
    const bad = await errorOf(apiKeys.createApiKey({ tenantId, permissions: [] }));
    expect(bad?.findDetails(ErrorDetailSchema)[0]?.field).toBe("permissions");
  });

  it("lets a key create keys only within its own bounds", async () => {
    const tenantId = crypto.randomUUID();
    const store = crypto.randomUUID();
    const scoped = await createTestApiKey(admin, { tenantId, perms: ["admin"], storeIds: [store] });
    const client = createClient(ApiKeyService, testTransport(server.url, scoped.secret));
    expect((await errorOf(client.createApiKey({ tenantId, permissions: [3] })))?.code).toBe(
      Code.PermissionDenied,
    );
    const ok = await client.createApiKey({ tenantId, permissions: [1], storeIds: [store] });
    expect(ok.apiKey?.storeIds).toEqual([store]);
    expect((await errorOf(client.listApiKeys({ tenantId })))?.code).toBe(Code.PermissionDenied);
  });
});

function batchesOf(agent: TestAgent, n: number): AppendRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    $typeName: "ves.sequencer.v1.AppendRequest",
    receiptUpgrades: false,
    anchorUpgrades: false,
    batchId: `b${i}`,
    events: [signedEventToProto(agent.event())],
  }));
}

/** Runs an Append stream: the responses received, and the error that ended it (if any). */
async function runStream(
  transport: Transport,
  requests: AsyncIterable<AppendRequest>,
): Promise<{ responses: AppendResponse[]; error: ConnectError | undefined }> {
  const responses: AppendResponse[] = [];
  try {
    for await (const r of createClient(SequencerService, transport).append(requests)) responses.push(r);
    return { responses, error: undefined };
  } catch (e) {
    return { responses, error: ConnectError.from(e) };
  }
}

describe("rate limit", () => {
  it("refuses a burst beyond the limit with retry information, and accepts again after it", async () => {
    const tenantId = crypto.randomUUID();
    const storeId = crypto.randomUUID();
    const k = await createTestApiKey(admin, { tenantId, perms: ["read"], rateLimit: 3 });
    const seq = createClient(SequencerService, testTransport(server.url, k.secret));
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 12 }, () => errorOf(seq.getHead({ tenantId, storeId }))),
    );
    const elapsed = performance.now() - started;
    const refused = results.filter((e) => e !== undefined);
    const accepted = results.length - refused.length;
    // 3 tokens in the bucket, plus one per 333 ms the burst took to be answered (a loaded machine is slower).
    expect(accepted).toBeGreaterThanOrEqual(3);
    expect(accepted).toBeLessThanOrEqual(3 + Math.ceil((elapsed * 3) / 1000));
    expect(refused.length).toBeGreaterThan(0);
    const err = refused[0] as ConnectError;
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.metadata.get("retry-after")).toBe("1");
    const detail = err.findDetails(ErrorDetailSchema)[0];
    expect(detail?.reason).toBe("resource_exhausted");
    const retryAfterMs = Number(detail?.retryAfterMs);
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(334);
    await sleep(retryAfterMs + 20);
    expect(await errorOf(seq.getHead({ tenantId, storeId }))).toBeUndefined();
    // Other credentials are not affected.
    expect(
      await errorOf(createClient(SequencerService, admin).getHead({ tenantId, storeId })),
    ).toBeUndefined();
  });

  it("counts each batch of an Append stream, ending the stream past the limit after answering the rest", async () => {
    const agent = createAgent();
    await registerAgent(keys, agent);
    const k = await createTestApiKey(admin, { tenantId: agent.tenantId, perms: ["write"], rateLimit: 2 });
    async function* requests() {
      yield* batchesOf(agent, 10);
    }
    const { responses, error } = await runStream(testTransport(server.url, k.secret), requests());
    expect(responses.length).toBeGreaterThanOrEqual(2);
    expect(responses.length).toBeLessThan(10);
    expect(error?.code).toBe(Code.ResourceExhausted);
    expect(error?.findDetails(ErrorDetailSchema)[0]?.retryAfterMs).toBeGreaterThan(0n);
    const [row] = await sql<
      { n: bigint }[]
    >`select count(*)::bigint as n from events where tenant_id = ${agent.tenantId}`;
    expect(Number(row?.n)).toBe(responses.length);
  });
});

describe("Append streams check every batch", () => {
  it("answers the batches before one outside the credential's bounds, then ends with PermissionDenied", async () => {
    const agent = createAgent();
    const stranger = createAgent({ tenantId: agent.tenantId, storeId: crypto.randomUUID() });
    await registerAgent(keys, agent);
    await registerAgent(keys, stranger);
    const k = await createTestApiKey(admin, {
      tenantId: agent.tenantId,
      perms: ["write"],
      storeIds: [agent.storeId],
    });
    async function* requests() {
      yield* batchesOf(agent, 2);
      yield* batchesOf(stranger, 1);
      yield* batchesOf(agent, 1);
    }
    const { responses, error } = await runStream(testTransport(server.url, k.secret), requests());
    expect(responses.map((r) => batchResultOf(r)?.acceptedCount)).toEqual([1, 1]);
    expect(error?.code).toBe(Code.PermissionDenied);
    expect(error?.findDetails(ErrorDetailSchema)[0]?.field).toBe("events[0].store_id");
    const [row] = await sql<
      { n: bigint }[]
    >`select count(*)::bigint as n from events where tenant_id = ${agent.tenantId}`;
    expect(Number(row?.n)).toBe(2);
  });

  it("ends a stream whose API key is revoked while it is open", async () => {
    const agent = createAgent();
    await registerAgent(keys, agent);
    const k = await createTestApiKey(admin, { tenantId: agent.tenantId, perms: ["write"] });
    const [first, second] = batchesOf(agent, 2) as [AppendRequest, AppendRequest];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    async function* requests() {
      yield first;
      await gate;
      yield second;
    }
    const running = runStream(testTransport(server.url, k.secret), requests());
    await expect
      .poll(async () => {
        const [row] = await sql<
          { n: bigint }[]
        >`select count(*)::bigint as n from events where tenant_id = ${agent.tenantId}`;
        return Number(row?.n);
      })
      .toBe(1);
    await apiKeys.revokeApiKey({ tenantId: agent.tenantId, prefix: k.prefix });
    release();
    const { responses, error } = await running;
    expect(responses.length).toBe(1);
    expect(error?.code).toBe(Code.Unauthenticated);
  });
});
