// OpenTelemetry tracing, against an in-memory exporter: one span per RPC on every transport (connect's handler for
// gRPC and Connect, the lean gRPC unary path), named by method with the rpc.* attributes, the status code and the
// tenant; one span per sequencing transaction inside its RPC's span (AppendBatch, and each batch of an Append
// stream); the caller's traceparent continued; and nothing traced at all by a sequencer started without a tracer.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testTransport, withCredential } from "./support/sequencer.js";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let db: TestDatabase;
let server: Sequencer;
let agent: TestAgent;

const SEQ = "ves.sequencer.v1.SequencerService";

beforeAll(async () => {
  // As the OTLP set-up does: AsyncLocalStorage context and W3C trace-context propagation, globally.
  provider.register();
  db = await createTestDatabase();
  server = await startTestSequencer(db.url, {}, { tracer: provider.getTracer("test") });
  agent = createAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(server.url)), agent);
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  await provider.shutdown();
});

beforeEach(() => exporter.reset());

/** The finished spans named `name`, waiting up to 2 s for `count` of them (a stream's span ends after its last message). */
async function spans(name: string, count = 1): Promise<ReadableSpan[]> {
  for (let i = 0; i < 100; i++) {
    const found = exporter.getFinishedSpans().filter((s) => s.name === name);
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

function isChildOf(child: ReadableSpan, parent: ReadableSpan): boolean {
  return (
    child.spanContext().traceId === parent.spanContext().traceId &&
    child.parentSpanContext?.spanId === parent.spanContext().spanId
  );
}

describe("spans", () => {
  it("AppendBatch: one RPC span, the sequencing transaction's span inside it", async () => {
    const seq = createClient(SequencerService, testTransport(server.url));
    await seq.appendBatch({
      batchId: crypto.randomUUID(),
      events: [agent.event(), agent.event(), agent.event()].map(signedEventToProto),
    });
    const [rpc] = await spans(`${SEQ}/AppendBatch`);
    const [tx] = await spans("sequence batch");
    expect(rpc).toBeDefined();
    expect(tx).toBeDefined();
    const r = rpc as ReadableSpan;
    const t = tx as ReadableSpan;
    expect(r.kind).toBe(SpanKind.SERVER);
    expect(r.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": SEQ,
      "rpc.method": "AppendBatch",
      "rpc.grpc.status_code": 0,
      "ves.tenant_id": agent.tenantId,
      "ves.request_id": expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(r.status.code).toBe(SpanStatusCode.UNSET);
    expect(isChildOf(t, r)).toBe(true);
    expect(t.attributes).toMatchObject({
      "ves.tenant_id": agent.tenantId,
      "ves.store_id": agent.storeId,
      "ves.batch.events": 3,
      "ves.batch.accepted": 3,
      "ves.batch.replayed": 0,
      "ves.batch.rejected": 0,
      "ves.stream.head": "3",
      "ves.outcome": "committed",
    });
    // The transaction happened within the call. The OpenTelemetry SDK anchors each span's clock to Date.now()
    // when the span starts, so two spans' timestamps can disagree by up to 1 ms: compare within that.
    const start = (s: ReadableSpan) => s.startTime[0] * 1e9 + s.startTime[1];
    const end = (s: ReadableSpan) => s.endTime[0] * 1e9 + s.endTime[1];
    const clockSkew = 1e6;
    expect(start(t)).toBeGreaterThanOrEqual(start(r) - clockSkew);
    expect(end(t)).toBeLessThanOrEqual(end(r) + clockSkew);
  });

  it("Append stream: every batch's transaction is a child of the stream's span", async () => {
    const seq = createClient(SequencerService, testTransport(server.url));
    async function* batches() {
      for (let i = 0; i < 2; i++) {
        yield { batchId: crypto.randomUUID(), events: [signedEventToProto(agent.event())] };
      }
    }
    let answered = 0;
    for await (const res of seq.append(batches())) {
      if (res.kind.case === "batchResult") answered++;
    }
    expect(answered).toBe(2);
    const [rpc] = await spans(`${SEQ}/Append`);
    const txs = await spans("sequence batch", 2);
    expect(rpc?.attributes).toMatchObject({ "rpc.method": "Append", "rpc.grpc.status_code": 0 });
    expect(txs).toHaveLength(2);
    for (const t of txs) expect(isChildOf(t, rpc as ReadableSpan)).toBe(true);
    expect(txs.map((t) => t.attributes["ves.batch.accepted"])).toEqual([1, 1]);
  });

  it("the lean gRPC unary path: spanned too, with the status code of a refusal", async () => {
    const proofs = createClient(ProofService, testTransport(server.url));
    await proofs.getSyncState({ tenantId: agent.tenantId, storeId: agent.storeId });
    const [ok] = await spans("ves.sequencer.v1.ProofService/GetSyncState");
    expect(ok?.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.method": "GetSyncState",
      "rpc.grpc.status_code": 0,
      "ves.tenant_id": agent.tenantId,
    });
    exporter.reset();
    const anonymous = createClient(ProofService, createGrpcTransport({ baseUrl: server.url }));
    const err = await anonymous
      .getSyncState({ tenantId: agent.tenantId, storeId: agent.storeId })
      .catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    const [refused] = await spans("ves.sequencer.v1.ProofService/GetSyncState");
    expect(refused?.attributes["rpc.grpc.status_code"]).toBe(Code.Unauthenticated);
    // A client's mistake is not the server's error.
    expect(refused?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("the Connect protocol: rpc.system connect_rpc; a caller's traceparent is continued", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const traceparent: Interceptor = (next) => (req) => {
      req.header.set("traceparent", `00-${traceId}-${parentId}-01`);
      return next(req);
    };
    const seq = createClient(
      SequencerService,
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: "1.1",
        interceptors: [withCredential(TEST_ADMIN_KEY), traceparent],
      }),
    );
    await seq.getHead({ tenantId: agent.tenantId, storeId: agent.storeId });
    const [span] = await spans(`${SEQ}/GetHead`);
    expect(span?.attributes).toMatchObject({ "rpc.system": "connect_rpc", "rpc.grpc.status_code": 0 });
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.parentSpanContext?.spanId).toBe(parentId);
  });
});

it("a sequencer started without a tracer traces nothing, even with a global tracer provider registered", async () => {
  const untraced = await startTestSequencer(db.url);
  try {
    exporter.reset();
    const transport = testTransport(untraced.url);
    await createClient(SequencerService, transport).appendBatch({
      batchId: crypto.randomUUID(),
      events: [signedEventToProto(agent.event())],
    });
    await createClient(ProofService, transport).getSyncState({
      tenantId: agent.tenantId,
      storeId: agent.storeId,
    });
    expect(exporter.getFinishedSpans()).toEqual([]);
  } finally {
    await untraced.stop();
  }
});
