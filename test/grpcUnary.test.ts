// The lean gRPC unary path (src/api/grpcUnary.ts) against the connect handler it stands in for: the same
// requests over gRPC (served by the lean path) and over the Connect protocol (served by connect-es) give the same
// responses and the same errors (code, message, details); malformed gRPC envelopes get INVALID_ARGUMENT naming the
// message; the RPC counter counts these calls.
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import {
  GetInclusionProofRequestSchema,
  GetInclusionProofResponseSchema,
  ProofService,
} from "../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { verifyInclusionProof } from "../src/client/verifyInclusionProof.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testTransport, withCredential } from "./support/sequencer.js";

const SEAL_EVERY = 4;
const MAX_MESSAGE_BYTES = 16_384;
let db: TestDatabase;
let server: Sequencer;
let agent: TestAgent;
/** Over gRPC: the lean path. */
let grpc: Client<typeof ProofService>;
/** Over the Connect protocol: connect-es's handler, with the interceptors. */
let connect: Client<typeof ProofService>;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url, {
    COMMIT_MAX_EVENTS: String(SEAL_EVERY),
    COMMIT_MAX_AGE_MS: "600000",
    COMMIT_POLL_MS: "20",
    MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
  });
  const transport = testTransport(server.url);
  grpc = createClient(ProofService, transport);
  connect = createClient(
    ProofService,
    createConnectTransport({
      baseUrl: server.url,
      httpVersion: "2",
      interceptors: [withCredential(TEST_ADMIN_KEY)],
    }),
  );
  agent = createAgent();
  await registerAgent(createClient(KeyRegistryService, transport), agent);
  // Sealed: 1..4. Unsealed (below the count threshold, long before the age threshold): 5..6.
  const seq = createClient(SequencerService, transport);
  await seq.appendBatch({
    batchId: crypto.randomUUID(),
    events: Array.from({ length: SEAL_EVERY + 2 }, () => signedEventToProto(agent.event())),
  });
  const deadline = Date.now() + 10_000;
  while ((await grpc.getSyncState(stream())).sealedSequence < BigInt(SEAL_EVERY)) {
    if (Date.now() > deadline) throw new Error("not sealed in 10 s");
    await new Promise((r) => setTimeout(r, 20));
  }
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const stream = () => ({ tenantId: agent.tenantId, storeId: agent.storeId });

type Outcome = { ok: unknown } | { code: string; message: string; details: unknown[] };

async function outcome(call: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await call };
  } catch (err) {
    const e = ConnectError.from(err);
    // The request id differs per call by design; everything else must match.
    const details = e.findDetails(ErrorDetailSchema).map((d) => ({ ...d, requestId: d.requestId !== "" }));
    return { code: Code[e.code], message: e.rawMessage, details };
  }
}

describe("the lean gRPC unary path", () => {
  const cases: [string, (c: Client<typeof ProofService>) => Promise<unknown>][] = [
    [
      "a sealed event's proof",
      (c) => c.getInclusionProof({ ...stream(), selector: { case: "sequenceNumber", value: 2n } }),
    ],
    [
      "an unsealed event",
      (c) => c.getInclusionProof({ ...stream(), selector: { case: "sequenceNumber", value: 5n } }),
    ],
    [
      "an event past the head",
      (c) => c.getInclusionProof({ ...stream(), selector: { case: "sequenceNumber", value: 99n } }),
    ],
    [
      "a malformed event id",
      (c) => c.getInclusionProof({ ...stream(), selector: { case: "eventId", value: "not-a-uuid" } }),
    ],
    ["no selector", (c) => c.getInclusionProof({ ...stream() })],
    [
      "an expected root that differs",
      (c) =>
        c.getInclusionProof({
          ...stream(),
          selector: { case: "sequenceNumber", value: 1n },
          expectedRoot: new Uint8Array(32).fill(7),
        }),
    ],
    ["a malformed tenant id", (c) => c.getInclusionProof({ tenantId: "nope", storeId: agent.storeId })],
    ["the sync state", (c) => c.getSyncState(stream())],
    [
      "a commitment by sequence",
      (c) => c.getCommitment({ ...stream(), selector: { case: "sequenceNumber", value: 3n } }),
    ],
    ["a batch of proofs", (c) => c.getInclusionProofs({ ...stream(), sequenceNumbers: [1n, 4n, 5n] })],
    [
      "a well-formed wrong proof",
      (c) => c.verifyInclusionProof({ proof: { siblings: [new Uint8Array(32)] } }),
    ],
  ];
  it.each(cases)("answers %s exactly as the connect handler does", async (_name, call) => {
    const viaGrpc = await outcome(call(grpc));
    const viaConnect = await outcome(call(connect));
    expect(viaGrpc).toEqual(viaConnect);
  });

  it("serves proofs that verify", async () => {
    const res = await grpc.getInclusionProof({
      ...stream(),
      selector: { case: "sequenceNumber", value: 3n },
    });
    const p = res.proof;
    if (p === undefined) throw new Error("no proof");
    expect(verifyInclusionProof(p).valid).toBe(true);
  });

  it("runs the same access gate: no credential, a wrong key", async () => {
    const req = { ...stream(), selector: { case: "sequenceNumber" as const, value: 1n } };
    for (const credential of [undefined, "wrong-key-0123456789abcdef0123456789"]) {
      const interceptors = credential === undefined ? [] : [withCredential(credential)];
      const viaGrpc = await outcome(
        createClient(
          ProofService,
          createGrpcTransport({ baseUrl: server.url, interceptors }),
        ).getInclusionProof(req),
      );
      const viaConnect = await outcome(
        createClient(
          ProofService,
          createConnectTransport({ baseUrl: server.url, httpVersion: "2", interceptors }),
        ).getInclusionProof(req),
      );
      expect(viaGrpc).toMatchObject({ code: "Unauthenticated" });
      expect(viaGrpc).toEqual(viaConnect);
    }
  });
});

describe("malformed gRPC requests", () => {
  /** One raw gRPC call: returns grpc-status, grpc-message (decoded) and the body's length. */
  async function raw(body: Buffer, headers: Record<string, string> = {}) {
    const session = http2.connect(server.url);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/ves.sequencer.v1.ProofService/GetInclusionProof",
        "content-type": "application/grpc",
        te: "trailers",
        "x-api-key": TEST_ADMIN_KEY,
        ...headers,
      });
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("trailers", resolve));
      stream.end(body);
      await new Promise((r) => stream.once("close", r));
      const t = await Promise.race([trailers, Promise.resolve({} as http2.IncomingHttpHeaders)]);
      return {
        status: Number(t["grpc-status"]),
        message: decodeURIComponent(String(t["grpc-message"] ?? "")),
        body: Buffer.concat(chunks),
      };
    } finally {
      session.close();
    }
  }
  const frame = (msg: Uint8Array, flags = 0, length = msg.length) => {
    const b = Buffer.alloc(5 + msg.length);
    b[0] = flags;
    b.writeUInt32BE(length, 1);
    b.set(msg, 5);
    return b;
  };
  const good = () =>
    toBinary(
      GetInclusionProofRequestSchema,
      create(GetInclusionProofRequestSchema, {
        ...stream(),
        selector: { case: "sequenceNumber", value: 1n },
      }),
    );

  it("answers a well-formed raw call with one framed response", async () => {
    const r = await raw(frame(good()));
    expect(r.status).toBe(0);
    const res = fromBinary(GetInclusionProofResponseSchema, r.body.subarray(5));
    expect(res.proof?.sequenceNumber).toBe(1n);
  });

  it.each([
    ["a body shorter than the prefix", () => Buffer.from([0, 0]), /got 2 bytes/],
    ["a prefix longer than the body", () => frame(good(), 0, good().length + 3), /exactly one message/],
    ["two messages", () => Buffer.concat([frame(good()), frame(good())]), /exactly one message/],
    ["the compressed flag without an encoding", () => frame(good(), 1), /flagged compressed/],
    ["bytes that are not protobuf", () => frame(Buffer.from([0xff, 0xff, 0xff])), /undecodable bytes/],
  ])("refuses %s as INVALID_ARGUMENT", async (_name, body, message) => {
    const r = await raw(body());
    expect(r.status).toBe(Code.InvalidArgument);
    expect(r.message).toMatch(message);
    expect(r.body.length).toBe(0);
  });

  it("refuses a message over MAX_MESSAGE_BYTES as RESOURCE_EXHAUSTED, naming the limit", async () => {
    const r = await raw(frame(Buffer.alloc(MAX_MESSAGE_BYTES + 1)));
    expect(r.status).toBe(Code.ResourceExhausted);
    expect(r.message).toContain(`limit of ${MAX_MESSAGE_BYTES} bytes`);
  });

  it("refuses a malformed grpc-timeout as connect does", async () => {
    const r = await raw(frame(good()), { "grpc-timeout": "soon" });
    expect(r.status).toBe(Code.InvalidArgument);
    expect(r.message).toContain("timeout");
  });

  it("counts its calls in ves_rpcs_total by method and code", async () => {
    const scrape = async () => {
      const text = await (
        await fetch(`${server.url}/metrics`, { headers: { "x-api-key": TEST_ADMIN_KEY } })
      ).text();
      const m = /^ves_rpcs_total\{method="GetInclusionProof",code="InvalidArgument"\} (\d+)$/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await scrape();
    await raw(frame(Buffer.from([0xff])));
    expect(await scrape()).toBe(before + 1);
  });
});
