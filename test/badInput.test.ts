// Input PostgreSQL cannot hold, through real clients (gRPC, and the Connect protocol in binary and JSON): every
// case is INVALID_ARGUMENT naming the field and the limit, or a rejection of the one event, never INTERNAL.
import { connect as http2Connect } from "node:http2";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyService, Permission } from "../gen/ves/sequencer/v1/api_key_pb.js";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import { type Event, RejectionReason } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, withCredential } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let sql: postgres.Sql;
let agent: TestAgent;
const clients = {} as Record<
  "grpc" | "connect" | "connectJson",
  {
    seq: Client<typeof SequencerService>;
    keys: Client<typeof KeyRegistryService>;
    apiKeys: Client<typeof ApiKeyService>;
    proofs: Client<typeof ProofService>;
  }
>;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
  const interceptors = [withCredential(TEST_ADMIN_KEY)];
  const transports: Record<keyof typeof clients, Transport> = {
    grpc: createGrpcTransport({ baseUrl: server.url, interceptors }),
    connect: createConnectTransport({ baseUrl: server.url, httpVersion: "2", interceptors }),
    connectJson: createConnectTransport({
      baseUrl: server.url,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors,
    }),
  };
  for (const [name, t] of Object.entries(transports)) {
    clients[name as keyof typeof clients] = {
      seq: createClient(SequencerService, t),
      keys: createClient(KeyRegistryService, t),
      apiKeys: createClient(ApiKeyService, t),
      proofs: createClient(ProofService, t),
    };
  }
  agent = createAgent();
  await registerAgent(clients.grpc.keys, agent);
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await server?.stop();
  await db?.drop();
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (err === undefined) throw new Error("expected the call to fail");
  return err;
}

async function expectInvalid(p: Promise<unknown>, field: string, message: RegExp): Promise<void> {
  const err = await failure(p);
  expect(err.code, err.rawMessage).toBe(Code.InvalidArgument);
  expect(err.findDetails(ErrorDetailSchema)[0]?.field).toBe(field);
  expect(err.rawMessage).toMatch(message);
}

async function head(): Promise<bigint> {
  const r = await clients.grpc.seq.getHead({ tenantId: agent.tenantId, storeId: agent.storeId });
  return r.headSequence;
}

const NUL = /expected text without U\+0000 or lone surrogates, got U\+0000 at index 1/;
const TOO_BIG =
  /expected at most 9223372036854775807 \(2\^63 - 1, a PostgreSQL bigint\), got 9223372036854775808/;

describe("events PostgreSQL cannot hold", () => {
  it("rejects an event with U+0000 in entity_type, entity_id or event_type alone; the rest of its batch is sequenced", async () => {
    const before = await head();
    const events: Event[] = [
      signedEventToProto(agent.event()),
      signedEventToProto(agent.event({ entityType: "a\u0000b" })),
      signedEventToProto(agent.event({ entityId: "o\u0000" })),
      signedEventToProto(agent.event({ eventType: "e\u0000x" })),
      signedEventToProto(agent.event({ baseVersion: 2n ** 63n })),
      signedEventToProto(agent.event()),
    ];
    const { result } = await clients.grpc.seq.appendBatch({ batchId: "nul", events });
    expect(result?.acceptedCount).toBe(2);
    expect(result?.rejectedCount).toBe(4);
    const rejections = result?.results.flatMap((r) =>
      r.outcome.case === "rejection" ? [r.outcome.value] : [],
    );
    expect(rejections?.map((r) => [r.field, r.code])).toEqual([
      ["entity_type", "schema_validation: entity_type"],
      ["entity_id", "schema_validation: entity_id"],
      ["event_type", "schema_validation: event_type"],
      ["base_version", "schema_validation: base_version"],
    ]);
    for (const r of rejections ?? []) expect(r.reason).toBe(RejectionReason.INVALID_FORMAT);
    expect(rejections?.[0]?.message).toMatch(NUL);
    expect(rejections?.[3]?.message).toMatch(/"base_version" expected at most 9223372036854775807/);
    // Rejected events consumed no sequence number.
    expect(await head()).toBe(before + 2n);
  });

  it("bounds created_at to 64 bytes (1 MiB was accepted and then unreadable by default gRPC clients)", async () => {
    const long = `2025-01-01T00:00:00.${"1".repeat(1024 * 1024)}Z`;
    const at64 = `2025-01-01T00:00:00.${"1".repeat(64 - 21)}Z`;
    expect(Buffer.byteLength(at64)).toBe(64);
    const { result } = await clients.grpc.seq.appendBatch({
      batchId: "created-at",
      events: [agent.event({ createdAt: long }), agent.event({ createdAt: at64 })].map(signedEventToProto),
    });
    const first = result?.results[0]?.outcome;
    expect(first?.case).toBe("rejection");
    if (first?.case === "rejection") {
      expect(first.value.code).toBe("schema_validation: created_at");
      expect(first.value.message).toMatch(/at most 64 UTF-8 bytes, got 1048597 bytes/);
    }
    expect(result?.results[1]?.outcome.case).toBe("receipt");
    const [row] = await sql<{ n: number }[]>`select max(octet_length(created_at))::int as n from events`;
    expect(row?.n).toBeLessThanOrEqual(64);
  });

  it("answers a lone surrogate sent as JSON INVALID_ARGUMENT (protobuf-es refuses it while decoding)", async () => {
    const e = signedEventToProto(agent.event());
    const err = await failure(
      clients.connectJson.seq.appendBatch({ batchId: "surrogate", events: [{ ...e, entityId: "x\ud800" }] }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/entity_id.*invalid UTF8/);
  });

  it("fails a batch whose batch_id holds U+0000 as a whole, naming batch_id", async () => {
    await expectInvalid(
      clients.grpc.seq.appendBatch({ batchId: "b\u0000", events: [signedEventToProto(agent.event())] }),
      "batch_id",
      NUL,
    );
  });
});

describe.each(["grpc", "connect", "connectJson"] as const)("requests PostgreSQL cannot hold (%s)", (name) => {
  const c = () => clients[name];
  const stream = () => ({ tenantId: agent.tenantId, storeId: agent.storeId });

  it("U+0000 in read filters and entity history", async () => {
    await expectInvalid(
      c().seq.pullEvents({ ...stream(), filter: { entityType: "o\u0000" } }),
      "filter.entity_type",
      NUL,
    );
    await expectInvalid(
      c().seq.pullEvents({ ...stream(), filter: { eventTypes: ["ok", "e\u0000"] } }),
      "filter.event_types[1]",
      NUL,
    );
    await expectInvalid(
      c().seq.getEntityHistory({ ...stream(), entityType: "o", entityId: "x\u0000" }),
      "entity_id",
      NUL,
    );
  });

  it("U+0000 in API key names and revocation reasons", async () => {
    await expectInvalid(
      c().apiKeys.createApiKey({ tenantId: agent.tenantId, name: "n\u0000", permissions: [Permission.READ] }),
      "name",
      NUL,
    );
    await expectInvalid(
      c().keys.revokeAgentKey({
        tenantId: agent.tenantId,
        agentId: agent.agentId,
        keyId: 9,
        reason: "r\u0000",
      }),
      "reason",
      NUL,
    );
  });

  it("sequence numbers of 2^63 and more", async () => {
    const s = 2n ** 63n;
    await expectInvalid(
      c().proofs.getCommitment({ ...stream(), selector: { case: "sequenceNumber", value: s } }),
      "sequence_number",
      TOO_BIG,
    );
    await expectInvalid(
      c().proofs.getInclusionProof({ ...stream(), selector: { case: "sequenceNumber", value: s } }),
      "sequence_number",
      TOO_BIG,
    );
    await expectInvalid(
      c().proofs.getInclusionProofs({ ...stream(), sequenceNumbers: [1n, s] }),
      "sequence_numbers[1]",
      TOO_BIG,
    );
    await expectInvalid(
      c().keys.listKeyAuditLog({ tenantId: agent.tenantId, afterSeq: s }),
      "after_seq",
      TOO_BIG,
    );
    await expectInvalid(
      c().seq.pullEvents({ ...stream(), fromSequence: 2n ** 64n - 1n }),
      "from_sequence",
      /got 18446744073709551615/,
    );
  });

  it("times outside the years 0001..9999 in RegisterAgentKey", async () => {
    const other = createAgent({ tenantId: agent.tenantId });
    const register = (validFrom: ReturnType<typeof timestampFromDate>) =>
      c().keys.registerAgentKey({
        tenantId: other.tenantId,
        agentId: other.agentId,
        keyId: 1,
        publicKey: other.publicKey,
        validFrom,
      });
    const range = /expected a time from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z/;
    const outside = [
      timestampFromDate(new Date("+010000-01-01T00:00:00Z")),
      timestampFromDate(new Date("-000001-01-01T00:00:00Z")),
      { $typeName: "google.protobuf.Timestamp" as const, seconds: 2n ** 62n, nanos: 0 },
    ];
    for (const t of outside) {
      if (name === "connectJson") {
        // The JSON form (RFC 3339 text) cannot carry these at all: the client refuses to encode them.
        await expect(register(t)).rejects.toThrow(
          /must be from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/,
        );
      } else {
        await expectInvalid(register(t), "valid_from", range);
      }
    }
  });
});

describe("undecodable requests", () => {
  function post(
    path: string,
    headers: Record<string, string>,
    body: Uint8Array,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const session = http2Connect(server.url);
      session.on("error", reject);
      const req = session.request({ ":method": "POST", ":path": path, ...headers });
      let status = 0;
      const all: Record<string, unknown> = {};
      let text = "";
      req.on("response", (h) => {
        status = Number(h[":status"]);
        Object.assign(all, h);
      });
      req.on("trailers", (t) => Object.assign(all, t));
      req.on("data", (d: Buffer) => {
        text += d.toString("latin1");
      });
      req.on("end", () => {
        session.close();
        resolve({ status, headers: all, body: text });
      });
      req.on("error", reject);
      req.end(body);
    });
  }
  const garbage = Uint8Array.from([0x0a, 0xff]); // field 1, length-delimited, then a truncated length

  it("answers INVALID_ARGUMENT on the Connect protocol's unary path (it was INTERNAL, HTTP 500)", async () => {
    for (const path of [
      "/ves.sequencer.v1.SequencerService/GetHead",
      "/ves.sequencer.v1.ProofService/GetCommitment",
    ]) {
      const res = await post(
        path,
        { "content-type": "application/proto", authorization: `ApiKey ${TEST_ADMIN_KEY}` },
        garbage,
      );
      expect(res.status, res.body).toBe(400);
      const json = JSON.parse(res.body) as { code: string; message: string };
      expect(json.code).toBe("invalid_argument");
      expect(json.message).toMatch(
        /expected protobuf binary of its RPC's request type, got undecodable bytes/,
      );
    }
  });

  it("answers INVALID_ARGUMENT on gRPC-Web (it was INTERNAL)", async () => {
    const framed = Uint8Array.from([0, 0, 0, 0, garbage.length, ...garbage]);
    for (const path of [
      "/ves.sequencer.v1.SequencerService/GetHead",
      "/ves.sequencer.v1.ProofService/GetCommitment",
    ]) {
      const res = await post(
        path,
        { "content-type": "application/grpc-web+proto", authorization: `ApiKey ${TEST_ADMIN_KEY}` },
        framed,
      );
      expect(res.status).toBe(200);
      // One trailer envelope: flag 0x80, length, then "grpc-status: 3\r\n…".
      expect(res.body.charCodeAt(0)).toBe(0x80);
      expect(res.body).toMatch(/grpc-status: 3\r\n/);
      expect(decodeURIComponent(res.body)).toMatch(/expected protobuf binary of its RPC's request type/);
    }
  });

  it("answers INVALID_ARGUMENT on gRPC through connect and through the lean unary path", async () => {
    const framed = Uint8Array.from([0, 0, 0, 0, garbage.length, ...garbage]);
    // GetHead is connect's; GetCommitment is served by grpcUnary.ts.
    for (const path of [
      "/ves.sequencer.v1.SequencerService/GetHead",
      "/ves.sequencer.v1.ProofService/GetCommitment",
    ]) {
      const res = await post(
        path,
        { "content-type": "application/grpc", te: "trailers", authorization: `ApiKey ${TEST_ADMIN_KEY}` },
        framed,
      );
      expect(res.headers["grpc-status"], path).toBe(String(Code.InvalidArgument));
    }
  });
});
