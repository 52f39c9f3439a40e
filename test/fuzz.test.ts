// Property-based fuzzing of every RPC of every service over gRPC (connect, and the lean unary path for
// ProofService), the Connect protocol in binary and in JSON, and raw undecodable bodies: requests built from the
// message descriptors with hostile values (U+0000, lone surrogates, long strings, 64-bit extremes, timestamps of
// any int64, unknown enum values), as the bootstrap admin so they reach the handlers. Fails on any INTERNAL or
// HTTP 500, on a server that stops answering, and on a sequence number consumed by a rejected event.
import { connect as http2Connect } from "node:http2";
import {
  create,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageShape,
  ScalarType,
} from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnchorService } from "../gen/ves/sequencer/v1/anchor_pb.js";
import { ApiKeyService } from "../gen/ves/sequencer/v1/api_key_pb.js";
import { type Event, EventSchema } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, withCredential } from "./support/sequencer.js";

const SERVICES: DescService[] = [
  SequencerService,
  KeyRegistryService,
  ApiKeyService,
  ProofService,
  AnchorService,
];
/** Runs per transport; the file stays well under 30 s on the shared 2-core machine. */
const RUNS = { grpc: 160, connect: 100, connectJson: 100, grpcWeb: 60, raw: 120, ingest: 40 };
const STREAM_MS = 100;

let db: TestDatabase;
let server: Sequencer;
let agent: TestAgent;
/** The ingest property's own stream: calls of the RPC fuzz still in flight never write to it. */
let ingestAgent: TestAgent;
const transports = {} as Record<"grpc" | "connect" | "connectJson" | "grpcWeb", Transport>;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url, { COMMIT_MAX_EVENTS: "4", COMMIT_MAX_AGE_MS: "200" });
  const interceptors = [withCredential(TEST_ADMIN_KEY)];
  transports.grpc = createGrpcTransport({ baseUrl: server.url, interceptors });
  transports.connect = createConnectTransport({ baseUrl: server.url, httpVersion: "2", interceptors });
  transports.connectJson = createConnectTransport({
    baseUrl: server.url,
    httpVersion: "2",
    useBinaryFormat: false,
    interceptors,
  });
  transports.grpcWeb = createGrpcWebTransport({ baseUrl: server.url, httpVersion: "2", interceptors });
  agent = createAgent();
  ingestAgent = createAgent();
  await registerAgent(createClient(KeyRegistryService, transports.grpc), agent);
  await registerAgent(createClient(KeyRegistryService, transports.grpc), ingestAgent);
  // A few sealed events, so proof lookups find something.
  await createClient(SequencerService, transports.grpc).appendBatch({
    batchId: "seed",
    events: Array.from({ length: 6 }, () => signedEventToProto(agent.event())),
  });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

// ---- hostile values ----------------------------------------------------------------------------------------

const NASTY_STRINGS = [
  "",
  "\u0000",
  "a\u0000b",
  "order\u0000",
  "\u0000\u0000\u0000",
  "\ud800",
  "x\udfff",
  "\udfff\ud800",
  "😀",
  "é",
  "x".repeat(129),
  "y".repeat(5000),
  "2025-01-01T00:00:00Z",
  `2025-01-01T00:00:00.${"9".repeat(100)}Z`,
  "00000000-0000-0000-0000-000000000000",
  "ves_000000000000",
];

/** Any Unicode scalar values (fast-check's own "binary" unit is ~2 ms a sample here). */
const anyText = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff })), {
    maxLength: 30,
  })
  .map((cps) => String.fromCodePoint(...cps));

function stringFor(name: string): fc.Arbitrary<string> {
  const uuidish = fc.oneof(
    fc.uuid(),
    fc.uuid().map((u) => u.toUpperCase()),
    fc.uuid().map((u) => `${u}\u0000`),
  );
  const own = name.endsWith("tenant_id")
    ? fc.constant(agent.tenantId)
    : name.endsWith("store_id") || name === "store_ids"
      ? fc.constant(agent.storeId)
      : name.endsWith("agent_id") || name.endsWith("agent_ids")
        ? fc.constant(agent.agentId)
        : fc.string({ maxLength: 20 });
  return fc.oneof(
    { weight: 4, arbitrary: own },
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 1, arbitrary: uuidish },
    { weight: 1, arbitrary: anyText },
  );
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;
// Mostly small values (so requests get past the first checks and reach the database), often the extremes.
const int64 = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 10n }) },
  { weight: 2, arbitrary: fc.constantFrom(-1n, I64_MAX, I64_MIN, I64_MAX - 1n) },
  { weight: 1, arbitrary: fc.bigInt({ min: I64_MIN, max: I64_MAX }) },
);
const uint64 = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 10n }) },
  { weight: 2, arbitrary: fc.constantFrom(I64_MAX, I64_MAX + 1n, U64_MAX) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) },
);
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 70 }),
  fc.constantFrom(new Uint8Array(32), new Uint8Array(64), new Uint8Array(32).fill(0xff)),
);

function scalar(type: ScalarType, name: string): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.STRING:
      return stringFor(name);
    case ScalarType.BYTES:
      return bytes;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return int64;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return uint64;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(
        { weight: 3, arbitrary: fc.nat({ max: 10 }) },
        { weight: 1, arbitrary: fc.constantFrom(2 ** 31, 2 ** 32 - 1) },
        { weight: 1, arbitrary: fc.nat({ max: 2 ** 32 - 1 }) },
      );
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    default:
      return fc.oneof(
        { weight: 3, arbitrary: fc.nat({ max: 10 }) },
        { weight: 1, arbitrary: fc.constantFrom(-1, 2 ** 31 - 1, -(2 ** 31)) },
        { weight: 1, arbitrary: fc.integer() },
      );
  }
}

/** A signed event of agent `a`, left as is or with up to three fields replaced by hostile values. */
const eventsOf = (a: TestAgent): fc.Arbitrary<Event> =>
  fc
    .tuple(
      fc.nat({ max: 1 << 20 }),
      fc.array(fc.tuple(fc.constantFrom(...eventFields()), fc.nat()), { maxLength: 3 }),
      fc.context(),
    )
    .chain(([n, picks]) => {
      const base = signedEventToProto(a.event({ entityId: `fuzz-${n}` }));
      if (picks.length === 0) return fc.constant(base);
      return fc.tuple(...picks.map(([f]) => field(f, 3))).map((values) => {
        const { $typeName: _, ...init } = base as unknown as Record<string, unknown>;
        for (const [i, [f]] of picks.entries()) init[f.localName] = values[i];
        try {
          return create(EventSchema, init as never);
        } catch {
          return base; // a value the client cannot encode
        }
      });
    });

function eventFields(): DescField[] {
  const desc = SequencerService.method.appendBatch.input.field.events?.message;
  if (desc === undefined) throw new Error("no Event message");
  return desc.fields.filter((f) => f.oneof === undefined);
}

function field(f: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (f.fieldKind) {
    case "scalar":
      return scalar(f.scalar, f.name);
    case "enum":
      return fc.integer({ min: -1, max: f.enum.values.length + 1 });
    case "message":
      return message(f.message, depth + 1);
    case "list":
      if (f.listKind === "scalar") return fc.array(scalar(f.scalar, f.name), { maxLength: 3 });
      if (f.listKind === "enum") return fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 3 });
      return f.message.typeName === "ves.sequencer.v1.Event"
        ? fc.array(eventsOf(agent), { minLength: 1, maxLength: 4 })
        : fc.array(message(f.message, depth + 1), { maxLength: depth > 2 ? 0 : 2 });
    default:
      return fc.constant({});
  }
}

const messageArbs = new Map<string, fc.Arbitrary<unknown>>();

/** Arbitrary init objects of `desc` (built once per type and depth). */
function message(desc: DescMessage, depth: number): fc.Arbitrary<unknown> {
  const key = `${desc.typeName}@${depth}`;
  let arb = messageArbs.get(key);
  if (arb === undefined) {
    arb = buildMessage(desc, depth);
    messageArbs.set(key, arb);
  }
  return arb;
}

function buildMessage(desc: DescMessage, depth: number): fc.Arbitrary<unknown> {
  if (desc.typeName === "google.protobuf.Timestamp") {
    return fc.record({
      seconds: fc.oneof(
        fc.constantFrom(0n, -62135596801n, 253402300800n, I64_MAX, I64_MIN),
        fc.bigInt({ min: -1n << 40n, max: 1n << 40n }),
      ),
      nanos: fc.oneof(fc.constantFrom(0, -1, 999_999_999, 1_000_000_000), fc.integer()),
    });
  }
  if (depth > 4) return fc.constant(undefined);
  const entries: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of desc.fields) {
    if (f.oneof !== undefined) continue;
    entries[f.localName] = fc.option(field(f, depth), { nil: undefined, freq: 3 });
  }
  for (const o of desc.oneofs) {
    entries[o.localName] = fc.oneof(
      fc.constant({ case: undefined }),
      ...o.fields.map((f) => field(f, depth).map((value) => ({ case: f.localName, value }))),
    );
  }
  return fc
    .record(entries)
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

// ---- calling ------------------------------------------------------------------------------------------------

const METHODS: DescMethod[] = SERVICES.flatMap((s) => s.methods);

/** A request the client can encode (JSON cannot carry times outside 0001..9999, for one), or undefined. */
function build(method: DescMethod, init: unknown): MessageShape<DescMessage> | undefined {
  try {
    return create(method.input, init as never);
  } catch {
    return undefined;
  }
}

function clientFor(t: Transport, method: DescMethod): Record<string, (...args: unknown[]) => unknown> {
  return createClient(method.parent, t) as unknown as Record<string, (...args: unknown[]) => unknown>;
}

const ENCODE_FAILURE = /cannot encode|must be from|invalid UTF8|serialize/;

/** Calls `method`; returns the code it answered (OK for success). Streams are read for STREAM_MS at most. */
async function invoke(
  t: Transport,
  method: DescMethod,
  req: MessageShape<DescMessage>,
): Promise<Code | "OK"> {
  const fn = clientFor(t, method)[method.localName] as (...args: unknown[]) => unknown;
  const signal = AbortSignal.timeout(STREAM_MS);
  try {
    if (method.methodKind === "unary") {
      await (fn(req, { timeoutMs: 10_000 }) as Promise<unknown>);
    } else if (method.methodKind === "server_streaming") {
      for await (const _ of fn(req, { signal }) as AsyncIterable<unknown>) break;
    } else {
      async function* one() {
        yield req;
      }
      for await (const _ of fn(one(), { signal }) as AsyncIterable<unknown>) {
        // read what it answers until the stream ends or the window closes
      }
    }
    return "OK";
  } catch (e) {
    const err = ConnectError.from(e);
    if (err.code === Code.Canceled || (err.code === Code.DeadlineExceeded && signal.aborted)) return "OK";
    // A request the client itself could not encode never reached the server.
    if (err.code === Code.Internal && ENCODE_FAILURE.test(err.rawMessage) && !err.metadata.has("grpc-status"))
      return "OK";
    if (err.code === Code.Internal || err.code === Code.Unknown) {
      throw new Error(`${method.parent.name}/${method.name} answered ${Code[err.code]}: ${err.rawMessage}`);
    }
    return err.code;
  }
}

async function alive(): Promise<void> {
  const head = await createClient(SequencerService, transports.grpc).getHead({
    tenantId: agent.tenantId,
    storeId: agent.storeId,
  });
  expect(head.headSequence).toBeGreaterThanOrEqual(6n);
}

const requestArb = fc
  .constantFrom(...METHODS)
  .chain((method) => message(method.input, 0).map((init) => ({ method, init })));

describe.each(["grpc", "connect", "connectJson", "grpcWeb"] as const)("fuzzing every RPC over %s", (name) => {
  it("never answers INTERNAL and the server keeps serving", async () => {
    const codes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async ({ method, init }) => {
        const req = build(method, init);
        if (req === undefined) return;
        const code = await invoke(transports[name], method, req);
        const key = code === "OK" ? "OK" : Code[code];
        codes.set(key, (codes.get(key) ?? 0) + 1);
      }),
      { numRuns: RUNS[name] },
    );
    await alive();
    // The fuzz reaches the handlers: some calls succeed and some are refused as bad input.
    expect(codes.get("OK") ?? 0).toBeGreaterThan(0);
    expect(codes.get("InvalidArgument") ?? 0).toBeGreaterThan(0);
  });
});

describe("fuzzing undecodable bodies", () => {
  function post(
    path: string,
    contentType: string,
    body: Uint8Array,
  ): Promise<{ status: number; grpc: string }> {
    return new Promise((resolve, reject) => {
      const session = http2Connect(server.url);
      session.on("error", reject);
      const req = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": contentType,
        te: "trailers",
        authorization: `ApiKey ${TEST_ADMIN_KEY}`,
      });
      let status = 0;
      let grpc = "";
      req.on("response", (h) => {
        status = Number(h[":status"]);
        grpc = String(h["grpc-status"] ?? "");
      });
      req.on("trailers", (t) => {
        grpc = String(t["grpc-status"] ?? grpc);
      });
      req.on("data", (d: Buffer) => {
        // gRPC-Web: the status is in the trailer envelope at the end of the body.
        const m = /grpc-status: (\d+)/.exec(d.toString("latin1"));
        if (m !== null) grpc = m[1] as string;
      });
      req.on("end", () => {
        session.close();
        resolve({ status, grpc });
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  it("never answers INTERNAL or HTTP 500 to random bytes, over gRPC, gRPC-Web and the Connect protocol", async () => {
    const unary = METHODS.filter((m) => m.methodKind === "unary");
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...unary),
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom("application/grpc", "application/grpc-web+proto", "application/proto"),
        async (method, body, contentType) => {
          const path = `/${method.parent.typeName}/${method.name}`;
          if (contentType === "application/proto") {
            const res = await post(path, contentType, body);
            expect(res.status, path).not.toBe(500);
            return;
          }
          const framed = new Uint8Array(5 + body.length);
          new DataView(framed.buffer).setUint32(1, body.length);
          framed.set(body, 5);
          const res = await post(path, contentType, framed);
          expect(res.status, path).toBe(200);
          expect(res.grpc, path).not.toBe(String(Code.Internal));
          expect(res.grpc, path).not.toBe(String(Code.Unknown));
        },
      ),
      { numRuns: RUNS.raw },
    );
    await alive();
  });
});

describe("fuzzing ingest", () => {
  it("consumes exactly one sequence number per accepted event, none for a rejected one", async () => {
    const seq: Client<typeof SequencerService> = createClient(SequencerService, transports.grpc);
    const head = async () =>
      (await seq.getHead({ tenantId: ingestAgent.tenantId, storeId: ingestAgent.storeId })).headSequence;
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventsOf(ingestAgent), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (events, stream) => {
          const before = await head();
          let result: Awaited<ReturnType<typeof seq.appendBatch>>["result"];
          try {
            if (stream) {
              async function* one() {
                yield { batchId: "fuzz", events };
              }
              for await (const r of seq.append(one())) {
                if (r.kind.case === "batchResult") result = r.kind.value;
              }
            } else {
              result = (await seq.appendBatch({ batchId: "fuzz", events })).result;
            }
          } catch (e) {
            const err = ConnectError.from(e);
            if (err.code === Code.Internal || err.code === Code.Unknown) throw err;
          }
          const after = await head();
          const n = result?.acceptedCount ?? 0;
          expect(after - before).toBe(BigInt(n));
          const seqs = (result?.results ?? []).flatMap((r) =>
            r.outcome.case === "receipt" && !r.replayed ? [r.outcome.value.sequenceNumber] : [],
          );
          expect(seqs).toEqual(Array.from({ length: n }, (_, i) => before + BigInt(i + 1)));
          accepted += n;
          rejected += result?.rejectedCount ?? 0;
        },
      ),
      { numRuns: RUNS.ingest },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
    await alive();
  });
});
