// End to end over a real socket with @grpc/grpc-js (the protobuf-es generated schemas plugged into
// makeGenericClientConstructor): pipelined bidi Append honouring backpressure, unary
// AppendBatch, GetHead and GetSequencerInfo, and a request that is not a valid protobuf message.

import { once } from "node:events";
import {
  create,
  type DescMessage,
  type DescMethod,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { type Client, type Code, type ConnectError, createClient } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../../gen/ves/sequencer/v1/error_detail_pb.js";
import { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import {
  type AppendBatchRequestSchema,
  type AppendBatchResponse,
  AppendRequestSchema,
  type AppendResponse,
  type GetHeadRequestSchema,
  type GetHeadResponse,
  type GetSequencerInfoRequestSchema,
  type GetSequencerInfoResponse,
  SequencerService,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../../src/client/signEvent.js";
import { signedEventToProto } from "../../src/client/toProto.js";
import { hexToBytes } from "../../src/crypto/bytes.js";
import { sodiumEd25519 } from "../../src/crypto/native.js";
import type { Sequencer } from "../../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "../support/agent.js";
import { batchResultOf } from "../support/batchResult.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testIdentity, withCredential } from "../support/sequencer.js";

/** grpc-js client interceptor: the test admin key on every call. */
const withApiKey: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set("authorization", `ApiKey ${TEST_ADMIN_KEY}`);
      next(metadata, listener);
    },
  });

import { assertBatchReceipts, type ExpectedSequencer } from "./assertBatchReceipts.js";

type Init<S extends DescMessage> = MessageInitShape<S>;

/** The typed surface of the generic grpc-js client for SequencerService (requests may be plain init objects). */
interface SequencerGrpcClient extends grpc.Client {
  Append(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<Init<typeof AppendRequestSchema>, AppendResponse>;
  AppendBatch(
    req: Init<typeof AppendBatchRequestSchema>,
    cb: grpc.requestCallback<AppendBatchResponse>,
  ): grpc.ClientUnaryCall;
  GetHead(
    req: Init<typeof GetHeadRequestSchema>,
    cb: grpc.requestCallback<GetHeadResponse>,
  ): grpc.ClientUnaryCall;
  GetSequencerInfo(
    req: Init<typeof GetSequencerInfoRequestSchema>,
    cb: grpc.requestCallback<GetSequencerInfoResponse>,
  ): grpc.ClientUnaryCall;
}

/** A grpc-js method definition whose (de)serializers are the generated protobuf-es schemas. */
function methodDefinition(m: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  const streaming = (kind: "client" | "server") =>
    m.methodKind === "bidi_streaming" || m.methodKind === `${kind}_streaming`;
  return {
    path: `/${m.parent.typeName}/${m.name}`,
    requestStream: streaming("client"),
    responseStream: streaming("server"),
    // `create` returns a message as is and builds one from a plain init object.
    // biome-ignore lint/suspicious/noExplicitAny: grpc-js hands over whatever the caller wrote.
    requestSerialize: (msg: any) => Buffer.from(toBinary(m.input, create(m.input, msg))),
    requestDeserialize: (b: Buffer) => fromBinary(m.input, b),
    // biome-ignore lint/suspicious/noExplicitAny: as above, for responses.
    responseSerialize: (msg: any) => Buffer.from(toBinary(m.output, msg)),
    responseDeserialize: (b: Buffer) => fromBinary(m.output, b),
  };
}

const SequencerGrpcClient = grpc.makeGenericClientConstructor(
  Object.fromEntries(SequencerService.methods.map((m) => [m.name, methodDefinition(m)])),
  "SequencerService",
);

/** The same paths, but requests are raw bytes written as given: for malformed-message cases. */
interface RawSequencerGrpcClient extends grpc.Client {
  Append(): grpc.ClientDuplexStream<Buffer, AppendResponse>;
  AppendBatch(req: Buffer, cb: grpc.requestCallback<AppendBatchResponse>): grpc.ClientUnaryCall;
}
const RawSequencerGrpcClient = grpc.makeGenericClientConstructor(
  Object.fromEntries(
    SequencerService.methods.map((m) => [
      m.name,
      { ...methodDefinition(m), requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b },
    ]),
  ),
  "SequencerServiceRaw",
);

function unary<Req, Res>(
  method: (req: Req, cb: grpc.requestCallback<Res>) => grpc.ClientUnaryCall,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(req, (err, res) => (err ? reject(err) : resolve(res as Res)));
  });
}

/** Field 1 (batch_id, length-delimited) claims 16 bytes but only 1 follows: not a protobuf message. */
const NOT_PROTOBUF = Buffer.from([0x0a, 0x10, 0x61]);

function encodeAppendRequest(batchId: string, events: readonly SignedEvent[]): Buffer {
  return Buffer.from(
    toBinary(
      AppendRequestSchema,
      create(AppendRequestSchema, { batchId, events: events.map(signedEventToProto) }),
    ),
  );
}

/** Resolves with the call's error, or undefined when it ends cleanly. */
function callOutcome(call: grpc.ClientDuplexStream<Buffer, AppendResponse>): Promise<unknown> {
  return new Promise((resolve) => {
    call.on("error", resolve);
    call.on("status", (s: grpc.StatusObject) => s.code === grpc.status.OK && resolve(undefined));
  });
}

/**
 * The google.rpc.Status a grpc-js client receives in grpc-status-details-bin, as a ConnectError (message as
 * sent, ErrorDetail attached). grpc-js hands binary metadata over decoded; the header form is base64.
 */
function grpcJsErrorDetails(err: grpc.ServiceError): ConnectError {
  const bin = err.metadata.get("grpc-status-details-bin")[0];
  expect(bin, "grpc-status-details-bin").toBeInstanceOf(Buffer);
  const headers = new Headers({ "grpc-status-details-bin": (bin as Buffer).toString("base64") });
  const decoded = findTrailerError(headers);
  expect(decoded?.code).toBe(err.code as number as Code);
  return decoded as ConnectError;
}

function statusOf(err: unknown): grpc.ServiceError {
  expect(err, "expected the call to fail").toBeInstanceOf(Error);
  return err as grpc.ServiceError;
}

let db: TestDatabase;
let server: Sequencer;
let sql: postgres.Sql;
let client: SequencerGrpcClient;
let raw: RawSequencerGrpcClient;
let info: GetSequencerInfoResponse;
let sequencer: ExpectedSequencer;
let keys: Client<typeof KeyRegistryService>;
const identity = testIdentity();

beforeAll(async () => {
  db = await createTestDatabase("ves_e2e_grpcjs");
  server = await startTestSequencer(db.url, { ...identity, MAX_IN_FLIGHT_BATCHES: "4" });
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
  keys = createClient(
    KeyRegistryService,
    createGrpcTransport({ baseUrl: server.url, interceptors: [withCredential(TEST_ADMIN_KEY)] }),
  );
  client = new SequencerGrpcClient(`127.0.0.1:${server.address.port}`, grpc.credentials.createInsecure(), {
    interceptors: [withApiKey],
  }) as unknown as SequencerGrpcClient;
  raw = new RawSequencerGrpcClient(`127.0.0.1:${server.address.port}`, grpc.credentials.createInsecure(), {
    interceptors: [withApiKey],
  }) as unknown as RawSequencerGrpcClient;
  info = await unary(client.GetSequencerInfo.bind(client), {});
  const current = info.signingKeys.find((k) => k.current);
  sequencer = {
    sequencerId: info.sequencerId,
    keyId: current?.keyId ?? "",
    publicKey: current?.publicKey ?? new Uint8Array(),
  };
});

afterAll(async () => {
  client?.close();
  raw?.close();
  await sql?.end({ timeout: 1 });
  await server?.stop();
  await db?.drop();
});

async function newAgent(): Promise<TestAgent> {
  const agent = createAgent();
  await registerAgent(keys, agent);
  return agent;
}

async function storedSequences(agent: TestAgent): Promise<bigint[]> {
  const rows = await sql<{ s: string }[]>`
    select sequence_number::text as s from events
    where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId} order by sequence_number`;
  return rows.map((r) => BigInt(r.s));
}

describe("grpc-js client", () => {
  it("reads GetSequencerInfo: protocol, the configured receipt key and limits", () => {
    expect(info.protocolVersion).toBe("VES/1.0");
    expect(info.sequencerId).toBe(identity.SEQUENCER_ID);
    const current = info.signingKeys.filter((k) => k.current);
    expect(current).toHaveLength(1);
    expect(info.signingKeys[0]?.current).toBe(true);
    expect(current[0]?.algorithm).toBe("ed25519");
    expect(current[0]?.keyId).toBe(server.keyId);
    // The key the sequencer reports is the one derived from the seed it was configured with.
    const configured = sodiumEd25519.getPublicKey(hexToBytes(identity.SEQUENCER_SIGNING_KEY));
    expect(Buffer.from(current[0]?.publicKey ?? []).toString("hex")).toBe(
      Buffer.from(configured).toString("hex"),
    );
    expect(info.limits?.maxInFlightBatches).toBe(4);
    expect(info.limits?.maxEventsPerBatch).toBe(1000);
  });

  it("pipelines many batches on one Append stream, honours 'drain', and answers each in order", async () => {
    const agent = await newAgent();
    const BATCHES = 24;
    const PER_BATCH = 5;
    const batches = Array.from({ length: BATCHES }, (_, b) => ({
      batchId: `grpcjs-${b}`,
      events: Array.from({ length: PER_BATCH }, () => agent.event()),
    }));

    const call = client.Append();
    const responses: AppendResponse[] = [];
    let written = 0;
    let writtenAtFirstResponse: number | undefined;
    call.on("data", (r: AppendResponse) => {
      writtenAtFirstResponse ??= written;
      responses.push(r);
    });
    const finished = new Promise<grpc.StatusObject>((resolve, reject) => {
      call.on("status", resolve);
      call.on("error", reject);
    });
    let refusedWrites = 0;
    for (const b of batches) {
      written++;
      const ok = call.write(
        create(AppendRequestSchema, { batchId: b.batchId, events: b.events.map(signedEventToProto) }),
      );
      if (!ok) {
        refusedWrites++;
        await once(call, "drain");
      }
    }
    call.end();
    const status = await finished;
    expect(status.code).toBe(grpc.status.OK);

    // Several batches were on the wire before the first answer came back: the stream is pipelined.
    expect(writtenAtFirstResponse).toBeGreaterThanOrEqual(8);
    // grpc-js buffers 16 messages (objectMode highWaterMark) before write() returns false; 24 back-to-back
    // writes must overflow it, so the 'drain' path above really ran.
    expect(refusedWrites).toBeGreaterThanOrEqual(1);

    expect(responses.map((r) => batchResultOf(r)?.batchId)).toEqual(batches.map((b) => b.batchId));
    let next = 1n;
    for (const [i, r] of responses.entries()) {
      const b = batches[i] as { batchId: string; events: SignedEvent[] };
      assertBatchReceipts(batchResultOf(r), b.events, next, sequencer, b.batchId);
      next += BigInt(b.events.length);
    }
    const total = BigInt(BATCHES * PER_BATCH);
    const stored = await storedSequences(agent);
    expect(stored).toEqual(Array.from({ length: Number(total) }, (_, i) => BigInt(i + 1)));
    const head = await unary(client.GetHead.bind(client), {
      tenantId: agent.tenantId,
      storeId: agent.storeId,
    });
    expect(head.headSequence).toBe(total);
  });

  it("appends with unary AppendBatch, continuing the stream's sequence", async () => {
    const agent = await newAgent();
    const first = [agent.event(), agent.event(), agent.event()];
    const r1 = await unary(client.AppendBatch.bind(client), {
      batchId: "unary-1",
      events: first.map(signedEventToProto),
    });
    assertBatchReceipts(r1.result, first, 1n, sequencer, "unary-1");
    const second = [agent.event(), agent.event()];
    const r2 = await unary(client.AppendBatch.bind(client), {
      batchId: "unary-2",
      events: second.map(signedEventToProto),
    });
    assertBatchReceipts(r2.result, second, 4n, sequencer, "unary-2");
    expect(await storedSequences(agent)).toEqual([1n, 2n, 3n, 4n, 5n]);
  });

  it("refuses a malformed batch over unary AppendBatch with INVALID_ARGUMENT and machine-readable details", async () => {
    const err = statusOf(
      await unary(client.AppendBatch.bind(client), { batchId: "empty", events: [] }).catch((e: unknown) => e),
    );
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const decoded = grpcJsErrorDetails(err);
    expect(decoded.rawMessage).toMatch(/"events" expected 1\.\.1000 events/);
    expect(decoded.findDetails(ErrorDetailSchema)[0]?.field).toBe("events");
    // connect-node writes grpc-message with encodeURIComponent and grpc-js reads it with decodeURI, which leaves
    // reserved characters escaped (",", ":", "/", ...): grpc-js users must decodeURIComponent `details`.
    expect(decodeURIComponent(err.details)).toBe(decoded.rawMessage);
  });

  it("fails an Append stream at a message that is not a protobuf AppendRequest, after answering the valid one", async () => {
    const agent = await newAgent();
    const good = [agent.event(), agent.event()];
    const call = raw.Append();
    const responses: AppendResponse[] = [];
    call.on("data", (r: AppendResponse) => responses.push(r));
    const outcome = callOutcome(call);
    call.write(encodeAppendRequest("valid", good));
    call.write(NOT_PROTOBUF);
    call.end();
    const err = statusOf(await outcome);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(decodeURIComponent(err.details)).toMatch(/premature EOF/);
    // The batch before the garbage was sequenced and answered; nothing after it was.
    expect(responses.map((r) => batchResultOf(r)?.batchId)).toEqual(["valid"]);
    assertBatchReceipts(batchResultOf(responses[0]), good, 1n, sequencer, "valid");
    expect(await storedSequences(agent)).toEqual([1n, 2n]);
    // The server and the connection are fine: the next call works.
    const head = await unary(client.GetHead.bind(client), {
      tenantId: agent.tenantId,
      storeId: agent.storeId,
    });
    expect(head.headSequence).toBe(2n);
  });

  it("answers INVALID_ARGUMENT for a stream message that is not protobuf", async () => {
    const call = raw.Append();
    const outcome = callOutcome(call);
    call.write(NOT_PROTOBUF);
    call.end();
    const streamErr = statusOf(await outcome);
    expect(streamErr.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(decodeURIComponent(streamErr.details)).toMatch(/expected protobuf binary/);
  });

  // connect-es decodes a unary request before any interceptor runs and reports a failure as INTERNAL;
  // decodeFailures.ts maps it (this was a tripwire marked `.fails` until then).
  it("answers INVALID_ARGUMENT (not INTERNAL) for a unary message that is not protobuf (connect-es)", async () => {
    const unaryErr = statusOf(await unary(raw.AppendBatch.bind(raw), NOT_PROTOBUF).catch((e: unknown) => e));
    expect(unaryErr.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(decodeURIComponent(unaryErr.details)).toMatch(/expected protobuf binary.*premature EOF/);
  });
});
