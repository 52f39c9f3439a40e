// The agent key registry over gRPC: proof of possession, point validation, duplicates, listing with computed
// status, revocation.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import { KeyRegistryService, KeyStatus } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { proofOfPossession } from "../src/client/proofOfPossession.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, serverCrypto } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, withCredential } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let keys: Client<typeof KeyRegistryService>;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
  keys = createClient(
    KeyRegistryService,
    createGrpcTransport({ baseUrl: server.url, interceptors: [withCredential(TEST_ADMIN_KEY)] }),
  );
});
afterAll(async () => {
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

describe("RegisterAgentKey", () => {
  it("registers a key with a valid proof of possession and lists it as active", async () => {
    const agent = createAgent();
    await registerAgent(keys, agent);
    const { keys: listed } = await keys.listAgentKeys({ tenantId: agent.tenantId, agentId: agent.agentId });
    expect(listed).toHaveLength(1);
    expect(listed[0]?.status).toBe(KeyStatus.ACTIVE);
    expect(Buffer.from(listed[0]?.publicKey ?? []).equals(Buffer.from(agent.publicKey))).toBe(true);
  });

  it("refuses a proof of possession made with another key", async () => {
    const agent = createAgent();
    const other = createAgent();
    const err = await failure(
      keys.registerAgentKey({
        tenantId: agent.tenantId,
        agentId: agent.agentId,
        keyId: 1,
        publicKey: agent.publicKey,
        proofOfPossession: proofOfPossession(agent.publicKey, { sign: other.sign }, serverCrypto),
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ErrorDetailSchema)[0]?.field).toBe("proof_of_possession");
  });

  it.each([
    ["the identity point", `01${"00".repeat(31)}`],
    ["a point of order 8", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"],
    ["a mixed-order point", `03${"00".repeat(31)}`],
    ["a non-canonical encoding", `ed${"ff".repeat(30)}7f`],
  ])("refuses %s as a public key", async (_, hex) => {
    const agent = createAgent();
    const err = await failure(
      keys.registerAgentKey({
        tenantId: agent.tenantId,
        agentId: agent.agentId,
        keyId: 1,
        publicKey: Buffer.from(hex, "hex"),
        proofOfPossession: new Uint8Array(64),
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/"public_key" expected a valid Ed25519 point/);
  });

  it("names the field of a malformed request", async () => {
    const agent = createAgent();
    const err = await failure(
      keys.registerAgentKey({
        tenantId: "acme",
        agentId: agent.agentId,
        keyId: 1,
        publicKey: agent.publicKey,
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe('"tenant_id" expected a UUID (8-4-4-4-12 hex), got "acme"');
    const short = await failure(
      keys.registerAgentKey({
        tenantId: agent.tenantId,
        agentId: agent.agentId,
        keyId: 1,
        publicKey: new Uint8Array(31),
      }),
    );
    expect(short.rawMessage).toBe('"public_key" expected 32 bytes (Ed25519), got 31 bytes');
  });

  it("refuses a second registration of the same key id with AlreadyExists", async () => {
    const agent = createAgent();
    await registerAgent(keys, agent);
    const err = await failure(registerAgent(keys, agent));
    expect(err.code).toBe(Code.AlreadyExists);
  });

  it("refuses valid_to before valid_from", async () => {
    const agent = createAgent();
    const err = await failure(
      keys.registerAgentKey({
        tenantId: agent.tenantId,
        agentId: agent.agentId,
        keyId: 1,
        publicKey: agent.publicKey,
        proofOfPossession: proofOfPossession(agent.publicKey, { sign: agent.sign }, serverCrypto),
        validFrom: timestampFromDate(new Date(Date.now() + 60_000)),
        validTo: timestampFromDate(new Date()),
      }),
    );
    expect(err.findDetails(ErrorDetailSchema)[0]?.field).toBe("valid_to");
  });
});

describe("RevokeAgentKey", () => {
  it("revokes once, keeps the first reason, and hides the key from the default listing", async () => {
    const agent = createAgent();
    await registerAgent(keys, agent);
    const first = await keys.revokeAgentKey({ ...ids(agent), keyId: 1, reason: "leaked" });
    expect(first.key?.status).toBe(KeyStatus.REVOKED);
    const again = await keys.revokeAgentKey({ ...ids(agent), keyId: 1, reason: "other" });
    expect(again.key?.revocationReason).toBe("leaked");
    expect(again.key?.revokedAt).toEqual(first.key?.revokedAt);
    expect((await keys.listAgentKeys({ tenantId: agent.tenantId })).keys).toHaveLength(0);
    const all = await keys.listAgentKeys({ tenantId: agent.tenantId, includeRevoked: true });
    expect(all.keys.map((k) => k.status)).toEqual([KeyStatus.REVOKED]);
  });

  it("answers NotFound for an unknown key", async () => {
    const agent = createAgent();
    const err = await failure(keys.revokeAgentKey({ ...ids(agent), keyId: 7, reason: "" }));
    expect(err.code).toBe(Code.NotFound);
  });
});

function ids(a: { tenantId: string; agentId: string }): { tenantId: string; agentId: string } {
  return { tenantId: a.tenantId, agentId: a.agentId };
}
