// The auth interceptor on streams, through a real typed client over createRouterTransport: a server-streaming
// subscription ends once its API key is revoked; a bidi stream's out-of-bounds message is never seen by the
// service. (A test-only service descriptor: the real API has no server-streaming RPC yet.)
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import pino from "pino";
import { describe, expect, it } from "vitest";
import {
  file_ves_sequencer_v1_sequencer,
  GetHeadRequestSchema,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { AuthenticateDeps } from "../app/authenticate.js";
import { createRateLimiter } from "../app/rateLimiter.js";
import { utf8 } from "../crypto/bytes.js";
import { constantTimeEqual, nativeSha256 } from "../crypto/native.js";
import type { ApiKey } from "../domain/apiKey.js";
import { formatApiKey } from "../domain/apiKey.js";
import { createAuthGate } from "./authGate.js";
import { authInterceptor, errorInterceptor } from "./interceptors.js";
import { createMetrics } from "./metrics.js";
import type { Policy } from "./policies.js";

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "test/watch.proto",
    package: "test.v1",
    syntax: "proto3",
    dependency: ["ves/sequencer/v1/sequencer.proto"],
    service: [
      {
        name: "WatchService",
        method: [
          {
            name: "Watch",
            inputType: ".ves.sequencer.v1.GetHeadRequest",
            outputType: ".ves.sequencer.v1.GetHeadResponse",
            serverStreaming: true,
          },
          {
            name: "Talk",
            inputType: ".ves.sequencer.v1.GetHeadRequest",
            outputType: ".ves.sequencer.v1.GetHeadResponse",
            clientStreaming: true,
            serverStreaming: true,
          },
        ],
      },
    ],
  }),
  (name) => (name === "ves/sequencer/v1/sequencer.proto" ? file_ves_sequencer_v1_sequencer : undefined),
);
const WatchService = registry.getService("test.v1.WatchService") as DescService;

const T = "11111111-1111-4111-8111-111111111111";
const OTHER = "44444444-4444-4444-8444-444444444444";
const refs = (m: { tenantId: string }) => [{ kind: "tenant" as const, field: "tenant_id", id: m.tenantId }];
const POLICIES = new Map<string, Policy>([
  ["/test.v1.WatchService/Watch", { key: "/test.v1.WatchService/Watch", requirement: "read", refs }],
  ["/test.v1.WatchService/Talk", { key: "/test.v1.WatchService/Talk", requirement: "read", refs }],
]);

function setup() {
  const { prefix, key } = formatApiKey(new Uint8Array(6).fill(3), new Uint8Array(32).fill(4));
  let record: ApiKey = {
    prefix,
    tenantId: T,
    keyHash: nativeSha256(utf8(key)),
    name: "",
    permissions: ["read"],
    storeIds: [],
    agentId: undefined,
    rateLimit: undefined,
    createdAt: new Date(0),
    createdBy: "test",
    revokedAt: undefined,
  };
  const clock = { now: () => new Date() };
  const authn: AuthenticateDeps = {
    apiKeys: { byPrefix: async () => record, forget: () => {} },
    tokens: undefined,
    bootstrapKeyHash: undefined,
    metricsKeyHash: undefined,
    sha256: nativeSha256,
    constantTimeEqual,
    clock,
  };
  const gate = createAuthGate({ mode: "required", authn, limiter: createRateLimiter(clock) });
  const seen: string[] = [];
  let sent = 0;
  const transport = createRouterTransport(
    (router) =>
      router.service(WatchService, {
        // biome-ignore lint/suspicious/noExplicitAny: a runtime descriptor has no generated types
        async *watch(req: any) {
          for (let i = 0; i < 5; i++) {
            sent++;
            yield { tenantId: req.tenantId, storeId: "", headSequence: BigInt(i) };
            await new Promise((r) => setTimeout(r, 5));
          }
        },
        // biome-ignore lint/suspicious/noExplicitAny: a runtime descriptor has no generated types
        async *talk(reqs: AsyncIterable<any>) {
          for await (const r of reqs) {
            seen.push(r.tenantId);
            yield { tenantId: r.tenantId, storeId: "", headSequence: 0n };
          }
        },
      } as never),
    {
      router: {
        interceptors: [
          errorInterceptor(pino({ level: "silent" }), createMetrics()),
          authInterceptor(gate, POLICIES, 0),
        ],
      },
      transport: {
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `ApiKey ${key}`);
            return next(req);
          },
        ],
      },
    },
  );
  // biome-ignore lint/suspicious/noExplicitAny: a runtime descriptor has no generated types
  const client = createClient(WatchService, transport) as any;
  return { client, seen, sent: () => sent, revoke: () => (record = { ...record, revokedAt: new Date(0) }) };
}

describe("authInterceptor on streams", () => {
  it("ends a server stream once its key is revoked", async () => {
    const { client, revoke, sent } = setup();
    const got: bigint[] = [];
    const err = await (async () => {
      for await (const m of client.watch(create(GetHeadRequestSchema, { tenantId: T }))) {
        got.push(m.headSequence);
        if (got.length === 2) revoke();
      }
    })().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(got).toEqual([0n, 1n]);
    expect(err?.code).toBe(Code.Unauthenticated);
    expect(sent()).toBeLessThan(5);
  });

  it("checks a server stream's request before the service runs", async () => {
    const { client, sent } = setup();
    const err = await (async () => {
      for await (const _ of client.watch(create(GetHeadRequestSchema, { tenantId: OTHER })));
    })().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(sent()).toBe(0);
  });

  it("never hands a bidi stream's out-of-bounds message to the service", async () => {
    const { client, seen } = setup();
    async function* requests() {
      yield create(GetHeadRequestSchema, { tenantId: T });
      yield create(GetHeadRequestSchema, { tenantId: OTHER });
      yield create(GetHeadRequestSchema, { tenantId: T });
    }
    const err = await (async () => {
      for await (const _ of client.talk(requests()));
    })().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(seen).toEqual([T]);
  });
});
