// Agents' X25519 encryption (recipient) keys through the key registry, over real gRPC clients: an agent publishes
// its own key with its own credential (audited), readers of the tenant look keys up, other tenants and other
// agents are refused, revocation stops lookups; and end to end: A publishes, B looks A up, encrypts and appends,
// A pulls and decrypts.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService, KeyStatus } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { createReader } from "../src/client/createReader.js";
import { decryptPayload, generateRecipientKey } from "../src/client/decryptPayload.js";
import { lookupRecipients } from "../src/client/lookupRecipients.js";
import { signEncryptedEvent } from "../src/client/signEncryptedEvent.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, nodeCrypto } from "../src/node/createAgent.js";
import { createAgent as createTestAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestApiKey } from "./support/auth.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
const T = crypto.randomUUID();
const S = crypto.randomUUID();
let alice: TestAgent;
let bob: TestAgent;
/**
 * Write+read API keys bound to each agent, a reader of the whole tenant (a reader verifies other agents'
 * signatures, which needs ListAgentKeys on them), and an admin of another tenant.
 */
const cred: Record<"alice" | "bob" | "tenantReader" | "otherTenant", { secret: string; prefix: string }> =
  {} as never;

const registry = (secret?: string) => createClient(KeyRegistryService, testTransport(server.url, secret));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return Code[ConnectError.from(err).code];
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
  const admin = testTransport(server.url);
  alice = createTestAgent({ tenantId: T, storeId: S });
  bob = createTestAgent({ tenantId: T, storeId: S });
  await registerAgent(createClient(KeyRegistryService, admin), alice);
  await registerAgent(createClient(KeyRegistryService, admin), bob);
  cred.alice = await createTestApiKey(admin, {
    tenantId: T,
    perms: ["read", "write"],
    agentId: alice.agentId,
  });
  cred.bob = await createTestApiKey(admin, { tenantId: T, perms: ["read", "write"], agentId: bob.agentId });
  cred.tenantReader = await createTestApiKey(admin, { tenantId: T, perms: ["read"] });
  cred.otherTenant = await createTestApiKey(admin, { tenantId: crypto.randomUUID(), perms: ["admin"] });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

describe("encryption keys in the key registry", () => {
  it("an agent registers, lists and revokes its own key, audited; other agents and tenants are refused", async () => {
    const key = generateRecipientKey(11);
    const mine = registry(cred.alice.secret);
    const registered = await mine.registerEncryptionKey({
      tenantId: T,
      agentId: alice.agentId,
      recipientKid: key.kid,
      publicKey: key.publicKey,
    });
    expect(registered.key).toMatchObject({
      tenantId: T,
      agentId: alice.agentId,
      recipientKid: 11,
      algorithm: "x25519",
      status: KeyStatus.ACTIVE,
    });
    expect(registered.key?.publicKey).toEqual(key.publicKey);

    // Another reader of the tenant sees it (senders must find their recipients).
    const listed = await registry(cred.bob.secret).listEncryptionKeys({
      tenantId: T,
      agentId: alice.agentId,
    });
    expect(listed.keys.map((k) => [k.recipientKid, k.status])).toEqual([[11, KeyStatus.ACTIVE]]);

    // Refusals: another agent's key, another tenant, a taken kid, a malformed key.
    const other = generateRecipientKey(12);
    expect(
      await codeOf(
        mine.registerEncryptionKey({
          tenantId: T,
          agentId: bob.agentId,
          recipientKid: 12,
          publicKey: other.publicKey,
        }),
      ),
    ).toBe("PermissionDenied");
    const outsider = registry(cred.otherTenant.secret);
    expect(await codeOf(outsider.listEncryptionKeys({ tenantId: T }))).toBe("PermissionDenied");
    expect(
      await codeOf(
        outsider.registerEncryptionKey({
          tenantId: T,
          agentId: alice.agentId,
          recipientKid: 13,
          publicKey: other.publicKey,
        }),
      ),
    ).toBe("PermissionDenied");
    expect(
      await codeOf(outsider.revokeEncryptionKey({ tenantId: T, agentId: alice.agentId, recipientKid: 11 })),
    ).toBe("PermissionDenied");
    expect(
      await codeOf(
        registry(cred.bob.secret).registerEncryptionKey({
          tenantId: T,
          agentId: bob.agentId,
          recipientKid: 11,
          publicKey: other.publicKey,
        }),
      ),
    ).toBe("AlreadyExists");
    const bad = await codeOf(
      mine.registerEncryptionKey({
        tenantId: T,
        agentId: alice.agentId,
        recipientKid: 14,
        publicKey: new Uint8Array(31),
      }),
    );
    expect(bad).toBe("InvalidArgument");
    await expect(
      mine.registerEncryptionKey({
        tenantId: T,
        agentId: alice.agentId,
        recipientKid: 14,
        publicKey: new Uint8Array(31),
      }),
    ).rejects.toThrow(/public_key.*32 bytes \(X25519\).*31 bytes/);

    const revoked = await mine.revokeEncryptionKey({
      tenantId: T,
      agentId: alice.agentId,
      recipientKid: 11,
      reason: "rotated",
    });
    expect(revoked.key).toMatchObject({ status: KeyStatus.REVOKED, revocationReason: "rotated" });
    expect((await mine.listEncryptionKeys({ tenantId: T, agentId: alice.agentId })).keys).toEqual([]);
    const all = await mine.listEncryptionKeys({ tenantId: T, agentId: alice.agentId, includeRevoked: true });
    expect(all.keys.map((k) => k.status)).toEqual([KeyStatus.REVOKED]);
    await expect(lookupRecipients(mine, T, [alice.agentId])).rejects.toMatchObject({
      reason: "invalid_argument",
      code: "no_encryption_key",
    });
    expect(
      await codeOf(mine.revokeEncryptionKey({ tenantId: T, agentId: alice.agentId, recipientKid: 99 })),
    ).toBe("NotFound");

    // Both changes are in the tenant's hash-chained audit log, with the agent's credential as the actor.
    const audit = await registry().listKeyAuditLog({ tenantId: T });
    const mineEntries = audit.entries.filter((e) => e.subject === `encryption_key:${alice.agentId}/11`);
    expect(mineEntries.map((e) => [e.action, e.actor])).toEqual([
      ["encryption_key.registered", `api_key:${cred.alice.prefix}`],
      ["encryption_key.revoked", `api_key:${cred.alice.prefix}`],
    ]);
    // Refused calls wrote nothing.
    expect(audit.entries.filter((e) => e.action.startsWith("encryption_key."))).toHaveLength(2);
  });

  it("end to end: A publishes its key, B looks it up, encrypts and appends, A pulls and decrypts", async () => {
    const aliceKey = generateRecipientKey(21);
    const bobKey = generateRecipientKey(22);
    await registry(cred.alice.secret).registerEncryptionKey({
      tenantId: T,
      agentId: alice.agentId,
      recipientKid: aliceKey.kid,
      publicKey: aliceKey.publicKey,
    });
    await registry(cred.bob.secret).registerEncryptionKey({
      tenantId: T,
      agentId: bob.agentId,
      recipientKid: bobKey.kid,
      publicKey: bobKey.publicKey,
    });

    const recipients = await lookupRecipients(registry(cred.bob.secret), T, [alice.agentId, bob.agentId]);
    expect(recipients).toEqual([
      { kid: 21, publicKey: aliceKey.publicKey },
      { kid: 22, publicKey: bobKey.publicKey },
    ]);
    const payload = { invoice: "INV-7", total: 4200 };
    const signed = await signEncryptedEvent(
      {
        tenantId: T,
        storeId: S,
        sourceAgentId: bob.agentId,
        agentKeyId: bob.keyId,
        entityType: "invoice",
        entityId: "INV-7",
        eventType: "invoice.issued",
        payload,
      },
      recipients,
      { sign: bob.sign },
      nodeCrypto(),
    );
    const producer = createAgent({
      url: server.url,
      credential: cred.bob.secret,
      signer: { sign: bob.sign },
      tenantId: T,
      storeId: S,
      sourceAgentId: bob.agentId,
      agentKeyId: bob.keyId,
      sequencerKey: server.publicKey,
    });
    await producer.appendSigned(signed);
    await producer.close();

    const reader = createReader({
      transport: testTransport(server.url, cred.tenantReader.secret),
      tenantId: T,
      storeId: S,
      sequencerKey: server.publicKey,
    });
    const [se] = (await reader.pull()).events;
    const event = se?.event as NonNullable<typeof se>["event"] & object;
    expect(event.payload).toHaveLength(0);
    expect(await decryptPayload(event, aliceKey)).toEqual(payload);
  });
});
