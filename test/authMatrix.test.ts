// The authorization matrix (§16.9): every RPC and HTTP route of the policy table × every kind of bad
// credential, through real clients over real sockets. Each gets exactly Unauthenticated or PermissionDenied (or,
// where the case does not apply to the operation, is not refused for it), and a refused call writes nothing.
import { create, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerReflectionRequestSchema as ReflectionV1RequestSchema } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflectionRequestSchema as ReflectionV1alphaRequestSchema } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { ApiKeyService } from "../gen/ves/sequencer/v1/api_key_pb.js";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { AppendRequestSchema, SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { POLICIES, type Policy } from "../src/api/policies.js";
import { proofOfPossession } from "../src/client/proofOfPossession.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { EVERY } from "../src/domain/authorize.js";
import { SERVICES, type Sequencer } from "../src/main.js";
import { createAgent, registerAgent, serverCrypto, type TestAgent } from "./support/agent.js";
import { createTestApiKey, rowCounts, signTestJwt, TEST_JWT_ENV } from "./support/auth.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let sql: postgres.Sql;
let admin: Transport;

const T = crypto.randomUUID();
const S = crypto.randomUUID();
const T2 = crypto.randomUUID();
const S2 = crypto.randomUUID();
const A2 = crypto.randomUUID();
const agent: TestAgent = createAgent({ tenantId: T, storeId: S });
/** The operator's scraper credential: GET /metrics and nothing else. */
const METRICS_KEY = "test-metrics-scraper-key-0123456789abcdef";
let victimPrefix = "";

/** A credential case: the headers it sends, and whether the case applies to a policy (undefined: skip). */
interface Case {
  readonly name: string;
  headers: () => Record<string, string>;
  readonly expect: (p: Policy, refs: ReturnType<Policy["refs"]>) => Outcome | undefined;
}
type Outcome = "unauthenticated" | "permission_denied" | "not_refused";

const creds: Record<string, Record<string, string>> = {};

const has = (refs: ReturnType<Policy["refs"]>, kind: string): boolean => refs.some((r) => r.kind === kind);
const global = (refs: ReturnType<Policy["refs"]>): boolean =>
  refs.some((r) => r.kind === "tenant" && r.id === EVERY);
const unauthenticated = (): Outcome => "unauthenticated";
const deniedIf =
  (kind: string) =>
  (_: Policy, refs: ReturnType<Policy["refs"]>): Outcome =>
    has(refs, kind) || global(refs) ? "permission_denied" : "not_refused";

const CASES: Case[] = [
  { name: "no credential", headers: () => ({}), expect: unauthenticated },
  {
    name: "malformed credential",
    headers: () => ({ authorization: "ApiKey ves_not-a-key" }),
    expect: unauthenticated,
  },
  { name: "expired JWT", headers: () => creds.expired ?? {}, expect: unauthenticated },
  { name: "revoked API key", headers: () => creds.revoked ?? {}, expect: unauthenticated },
  { name: "wrong tenant", headers: () => creds.wrongTenant ?? {}, expect: deniedIf("tenant") },
  { name: "wrong store", headers: () => creds.wrongStore ?? {}, expect: deniedIf("store") },
  { name: "wrong agent", headers: () => creds.wrongAgent ?? {}, expect: deniedIf("agent") },
  {
    name: "read-only credential on a write",
    headers: () => creds.readOnly ?? {},
    expect: (p, refs) =>
      p.requirement === "write" || p.requirement === "admin" || global(refs)
        ? "permission_denied"
        : "not_refused",
  },
  {
    name: "non-admin on an admin call",
    headers: () => creds.nonAdmin ?? {},
    // Not applicable to writes: an in-scope writer would write.
    expect: (p, refs) =>
      p.requirement === "admin" || global(refs)
        ? "permission_denied"
        : p.requirement === "write"
          ? undefined
          : "not_refused",
  },
  {
    name: "metrics-only credential",
    headers: () => ({ authorization: `ApiKey ${METRICS_KEY}` }),
    // Everything but GET /metrics, even what any valid credential may call (GetSequencerInfo, Verify*).
    expect: (p) => (p.key === "GET /metrics" ? "not_refused" : "permission_denied"),
  },
];

/** A request per RPC that an in-scope admin would be allowed to make (the positive control proves it). */
const SAMPLES: Record<string, () => unknown> = {
  "/ves.sequencer.v1.SequencerService/Append": () =>
    create(AppendRequestSchema, { batchId: "m", events: [signedEventToProto(agent.event())] }),
  "/ves.sequencer.v1.SequencerService/AppendBatch": () => ({
    batchId: "m",
    events: [signedEventToProto(agent.event())],
  }),
  "/ves.sequencer.v1.SequencerService/GetHead": () => ({ tenantId: T, storeId: S }),
  "/ves.sequencer.v1.SequencerService/GetSequencerInfo": () => ({}),
  "/ves.sequencer.v1.SequencerService/PullEvents": () => ({
    tenantId: T,
    storeId: S,
    fromSequence: 1n,
    limit: 10,
  }),
  "/ves.sequencer.v1.SequencerService/GetEntityHistory": () => ({
    tenantId: T,
    storeId: S,
    entityType: "order",
    entityId: "order-1",
  }),
  "/ves.sequencer.v1.SequencerService/Subscribe": () => ({ tenantId: T, storeId: S, fromSequence: 1n }),
  "/ves.sequencer.v1.KeyRegistryService/RegisterAgentKey": () => {
    const a = createAgent({ tenantId: T, storeId: S, agentId: agent.agentId, keyId: 7 });
    return {
      tenantId: T,
      agentId: agent.agentId,
      keyId: 7,
      publicKey: a.publicKey,
      proofOfPossession: proofOfPossession(a.publicKey, a, serverCrypto),
    };
  },
  "/ves.sequencer.v1.KeyRegistryService/ListAgentKeys": () => ({ tenantId: T, agentId: agent.agentId }),
  "/ves.sequencer.v1.KeyRegistryService/RevokeAgentKey": () => ({
    tenantId: T,
    agentId: agent.agentId,
    keyId: agent.keyId,
    reason: "matrix",
  }),
  "/ves.sequencer.v1.KeyRegistryService/RotateAgentKey": () => {
    const a = createAgent({ tenantId: T, storeId: S, agentId: agent.agentId, keyId: 8 });
    return {
      tenantId: T,
      agentId: agent.agentId,
      keyId: agent.keyId,
      newKeyId: 8,
      newPublicKey: a.publicKey,
      newProofOfPossession: proofOfPossession(a.publicKey, a, serverCrypto),
    };
  },
  "/ves.sequencer.v1.KeyRegistryService/ListKeyAuditLog": () => ({ tenantId: T }),
  "/ves.sequencer.v1.KeyRegistryService/RegisterEncryptionKey": () => ({
    tenantId: T,
    agentId: agent.agentId,
    recipientKid: 7,
    publicKey: new Uint8Array(32).fill(9),
  }),
  "/ves.sequencer.v1.KeyRegistryService/ListEncryptionKeys": () => ({ tenantId: T, agentId: agent.agentId }),
  "/ves.sequencer.v1.KeyRegistryService/RevokeEncryptionKey": () => ({
    tenantId: T,
    agentId: agent.agentId,
    recipientKid: 7,
    reason: "matrix",
  }),
  "/ves.sequencer.v1.ApiKeyService/CreateApiKey": () => ({
    tenantId: T,
    name: "matrix",
    permissions: [1],
    storeIds: [S],
    agentId: agent.agentId,
  }),
  "/ves.sequencer.v1.ApiKeyService/ListApiKeys": () => ({ tenantId: T }),
  "/ves.sequencer.v1.ApiKeyService/RevokeApiKey": () => ({ tenantId: T, prefix: victimPrefix }),
  "/ves.sequencer.v1.ProofService/GetCommitment": () => ({
    tenantId: T,
    storeId: S,
    selector: { case: "sequenceNumber", value: 1n },
  }),
  "/ves.sequencer.v1.ProofService/ListCommitments": () => ({ tenantId: T, storeId: S }),
  "/ves.sequencer.v1.ProofService/GetSyncState": () => ({ tenantId: T, storeId: S }),
  "/ves.sequencer.v1.ProofService/GetInclusionProof": () => ({
    tenantId: T,
    storeId: S,
    selector: { case: "sequenceNumber", value: 1n },
  }),
  "/ves.sequencer.v1.ProofService/GetInclusionProofs": () => ({
    tenantId: T,
    storeId: S,
    sequenceNumbers: [1n],
  }),
  "/ves.sequencer.v1.ProofService/GetConsistencyProof": () => ({ tenantId: T, storeId: S }),
  "/ves.sequencer.v1.ProofService/VerifyInclusionProof": () => ({}),
  "/ves.sequencer.v1.ProofService/VerifyReceipt": () => ({}),
  "/ves.sequencer.v1.ProofService/VerifyConsistencyProof": () => ({}),
  "/ves.sequencer.v1.AnchorService/GetAnchorStatus": () => ({
    tenantId: T,
    storeId: S,
    selector: { selector: { case: "sequenceNumber", value: 1n } },
  }),
  "/ves.sequencer.v1.AnchorService/VerifyAnchor": () => ({
    tenantId: T,
    storeId: S,
    selector: { selector: { case: "sequenceNumber", value: 1n } },
  }),
  "/grpc.health.v1.Health/Check": () => ({ service: "" }),
  "/grpc.health.v1.Health/Watch": () => ({ service: "" }),
  "/grpc.health.v1.Health/List": () => ({}),
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": () =>
    create(ReflectionV1RequestSchema, { messageRequest: { case: "listServices", value: "" } }),
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": () =>
    create(ReflectionV1alphaRequestSchema, { messageRequest: { case: "listServices", value: "" } }),
  "GET /.well-known/ves-sequencer-keys.json": () => undefined,
  "GET /healthz": () => undefined,
  "GET /readyz": () => undefined,
  "GET /metrics": () => undefined,
};

const METHODS = new Map<string, DescMethod>(
  SERVICES.flatMap((s) => s.methods.map((m) => [`/${s.typeName}/${m.name}`, m] as const)),
);

function headerInterceptor(headers: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
    return next(req);
  };
}

async function* once<T>(m: T): AsyncGenerator<T> {
  yield m;
}

/** Calls an RPC or route; the outcome as the matrix names it, with the code or status for messages. */
async function invoke(
  key: string,
  headers: Record<string, string>,
  message: unknown,
  transportOf: (i: Interceptor) => Transport = (i) =>
    createGrpcTransport({ baseUrl: server.url, interceptors: [i] }),
): Promise<{ outcome: Outcome; code: string }> {
  if (key.startsWith("GET ")) {
    const res = await fetch(`${server.url}${key.slice(4)}`, { headers });
    await res.text();
    const outcome =
      res.status === 401 ? "unauthenticated" : res.status === 403 ? "permission_denied" : "not_refused";
    return { outcome, code: String(res.status) };
  }
  const method = METHODS.get(key);
  if (method === undefined) throw new Error(`no method ${key}`);
  // biome-ignore lint/suspicious/noExplicitAny: calling any method of any service by descriptor
  const client = createClient(method.parent, transportOf(headerInterceptor(headers))) as any;
  try {
    const call = client[method.localName];
    if (method.methodKind === "unary") await call(message);
    else {
      // A subscription (Subscribe, or Append with one) never ends by itself: refused calls fail at once; one
      // still open after a moment, or that answered something, was admitted.
      const ac = new AbortController();
      const input = method.methodKind === "server_streaming" ? message : once(message);
      const it = (call(input, { signal: ac.signal }) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      const first = await Promise.race([it.next(), new Promise((r) => setTimeout(() => r("open"), 500))]);
      ac.abort();
      if (first === "open" || (first as IteratorResult<unknown>).done !== undefined) {
        await it.return?.().catch(() => undefined);
      }
    }
    return { outcome: "not_refused", code: "OK" };
  } catch (e) {
    const err = ConnectError.from(e);
    const outcome =
      err.code === Code.Unauthenticated
        ? "unauthenticated"
        : err.code === Code.PermissionDenied
          ? "permission_denied"
          : "not_refused";
    return { outcome, code: `${Code[err.code]}: ${err.rawMessage}` };
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url, { ...TEST_JWT_ENV, METRICS_API_KEY: METRICS_KEY });
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
  admin = testTransport(server.url);
  await registerAgent(createClient(KeyRegistryService, admin), agent);
  const all: ("read" | "write" | "admin")[] = ["read", "write", "admin"];
  const apiKey = (secret: string) => ({ authorization: `ApiKey ${secret}` });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  creds.good = apiKey((await createTestApiKey(admin, { tenantId: T, perms: all })).secret);
  creds.goodJwt = bearer(await signTestJwt({ sub: T, perms: "read,write,admin" }));
  creds.wrongTenant = { "x-api-key": (await createTestApiKey(admin, { tenantId: T2, perms: all })).secret };
  creds.wrongStore = bearer(await signTestJwt({ sub: T, perms: "read,write,admin", stores: S2 }));
  creds.wrongAgent = apiKey((await createTestApiKey(admin, { tenantId: T, perms: all, agentId: A2 })).secret);
  creds.readOnly = bearer(await signTestJwt({ sub: T, perms: "read" }));
  creds.nonAdmin = apiKey((await createTestApiKey(admin, { tenantId: T, perms: ["read", "write"] })).secret);
  creds.expired = bearer(await signTestJwt({ sub: T, perms: "read,write,admin", expiresInSeconds: -3600 }));
  const revoked = await createTestApiKey(admin, { tenantId: T, perms: all });
  await createClient(ApiKeyService, admin).revokeApiKey({ tenantId: T, prefix: revoked.prefix });
  creds.revoked = apiKey(revoked.secret);
  victimPrefix = (await createTestApiKey(admin, { tenantId: T, perms: ["read"] })).prefix;
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await server?.stop();
  await db?.drop();
});

it("has a sample request for every policy and a policy for every RPC the server registers", () => {
  expect(POLICIES.map((p) => p.key).filter((k) => SAMPLES[k] === undefined)).toEqual([]);
  expect([...METHODS.keys()].filter((k) => !POLICIES.some((p) => p.key === k))).toEqual([]);
});

const matrix = POLICIES.flatMap((policy) =>
  CASES.map((c) => {
    const sample = SAMPLES[policy.key];
    const refs = sample === undefined || policy.requirement === "public" ? [] : policy.refs(sample());
    const expected: Outcome | undefined =
      policy.requirement === "public" ? "not_refused" : c.expect(policy, refs);
    return {
      key: policy.key,
      label: policy.key.replace("/ves.sequencer.v1.", ""),
      name: c.name,
      c,
      expected,
    };
  }),
).filter((row) => row.expected !== undefined);

describe("authorization matrix", () => {
  it.each(matrix)("$label × $name → $expected, nothing written", async ({ key, c, expected }) => {
    const sample = SAMPLES[key] as () => unknown;
    const before = await rowCounts(sql);
    const { outcome, code } = await invoke(key, c.headers(), sample());
    expect({ outcome, code }).toMatchObject({ outcome: expected });
    expect(await rowCounts(sql)).toEqual(before);
  });

  it.each(POLICIES.filter((p) => p.key.startsWith("/")).map((p) => ({ key: p.key, label: p.key.slice(18) })))(
    "$label × in-scope admin API key and JWT → not refused (the requests are valid)",
    async ({ key }) => {
      const sample = SAMPLES[key] as () => unknown;
      // RevokeAgentKey and RotateAgentKey use key 1: whichever runs second fails for another reason (not auth).
      for (const headers of [creds.good, creds.goodJwt] as Record<string, string>[]) {
        const r = await invoke(key, headers, sample());
        expect(r.outcome, r.code).toBe("not_refused");
      }
    },
  );
});

describe("the read side of a sync Append stream", () => {
  const append = "/ves.sequencer.v1.SequencerService/Append";
  const subscribing = (tenantId: string) =>
    create(AppendRequestSchema, { subscription: { tenantId, storeId: S, fromSequence: 1n } });

  it("needs read on the subscribed stream besides write for the batches", async () => {
    const writeOnly = await createTestApiKey(admin, { tenantId: T, perms: ["write"] });
    const r = await invoke(append, { "x-api-key": writeOnly.secret }, subscribing(T));
    expect(r.outcome, r.code).toBe("permission_denied");
    const other = await invoke(append, creds.wrongTenant ?? {}, subscribing(T));
    expect(other.outcome, other.code).toBe("permission_denied");
    const fine = await invoke(append, creds.good ?? {}, subscribing(T));
    expect(fine.outcome, fine.code).toBe("not_refused");
  });
});

describe("the same rules on every transport", () => {
  const connect = (i: Interceptor) =>
    createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [i] });
  it("Connect over HTTP/1.1 refuses exactly as gRPC does", async () => {
    const before = await rowCounts(sql);
    const batch = () => SAMPLES["/ves.sequencer.v1.SequencerService/AppendBatch"]?.();
    const head = "/ves.sequencer.v1.SequencerService/GetHead";
    const appendBatch = "/ves.sequencer.v1.SequencerService/AppendBatch";
    expect((await invoke(head, {}, { tenantId: T, storeId: S }, connect)).outcome).toBe("unauthenticated");
    expect((await invoke(appendBatch, creds.wrongTenant ?? {}, batch(), connect)).outcome).toBe(
      "permission_denied",
    );
    expect((await invoke(appendBatch, creds.readOnly ?? {}, batch(), connect)).outcome).toBe(
      "permission_denied",
    );
    expect(await rowCounts(sql)).toEqual(before);
    expect((await invoke(head, creds.good ?? {}, { tenantId: T, storeId: S }, connect)).code).toBe("OK");
  });

  it("answers 401 with WWW-Authenticate and 403 on HTTP routes, 200 for the scraper and the all-tenant admin", async () => {
    const none = await fetch(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/Bearer/);
    expect(await none.json()).toMatchObject({ code: "unauthenticated" });
    // Every tenant credential, however strong, is refused the instance's metrics (they span every tenant).
    for (const headers of [creds.good, creds.goodJwt, creds.readOnly, creds.nonAdmin]) {
      const tenantKey = await fetch(`${server.url}/metrics`, { headers: headers ?? {} });
      expect(tenantKey.status).toBe(403);
      expect(await tenantKey.json()).toMatchObject({ code: "permission_denied" });
    }
    const bootstrap = await fetch(`${server.url}/metrics`, { headers: { "x-api-key": TEST_ADMIN_KEY } });
    expect(bootstrap.status).toBe(200);
    expect(await bootstrap.text()).toContain("ves_rpcs_total");
    const scraper = await fetch(`${server.url}/metrics`, { headers: { "x-api-key": METRICS_KEY } });
    expect(scraper.status).toBe(200);
    const body = await scraper.text();
    // Node's process metrics keep their standard names; only the product's own carry the ves_ prefix.
    for (const name of ["process_cpu_seconds_total", "nodejs_heap_size_used_bytes", "ves_rpcs_total"]) {
      expect(body).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    }
    expect(body).not.toMatch(/^ves_(process|nodejs)_/m);
    expect((await fetch(`${server.url}/healthz`, { headers: { authorization: "garbage" } })).status).toBe(
      200,
    );
  });

  it("names the field and what was expected in the error details", async () => {
    const client = createClient(
      SequencerService,
      createGrpcTransport({ baseUrl: server.url, interceptors: [headerInterceptor(creds.wrongAgent ?? {})] }),
    );
    const err = await client
      .appendBatch({ batchId: "x", events: [signedEventToProto(agent.event())] })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    const detail = (err as ConnectError).findDetails(ErrorDetailSchema)[0];
    expect(detail).toMatchObject({
      reason: "permission_denied",
      field: "events[0].source_agent_id",
      expected: A2,
      actual: agent.agentId,
    });
  });
});
