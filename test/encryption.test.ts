// VES-ENC-1 end to end: an agent encrypts a payload for two recipients with the SDK, the sequencer accepts it
// (structure and cipher hash checked) and signs a receipt, and another agent reads it back verified and decrypts.
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PayloadKind } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { createReader } from "../src/client/createReader.js";
import { decryptPayload, generateRecipientKey } from "../src/client/decryptPayload.js";
import { signEncryptedEvent } from "../src/client/signEncryptedEvent.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, nodeCrypto } from "../src/node/createAgent.js";
import { createAgent as createTestAgent, registerAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

it("the sequencer accepts what the SDK encrypts, and a recipient decrypts what another agent sent", async () => {
  const sender = createTestAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(server.url)), sender);
  const alice = generateRecipientKey(1); // the sender's own key, to read its events back
  const bob = generateRecipientKey(2); // another agent's
  const payload = { orderId: "ORD-9", amount: 1250, note: "ünïcode ✓" };
  const signed = await signEncryptedEvent(
    {
      tenantId: sender.tenantId,
      storeId: sender.storeId,
      sourceAgentId: sender.agentId,
      agentKeyId: sender.keyId,
      entityType: "order",
      entityId: "ORD-9",
      eventType: "order.created",
      payload,
    },
    [bob, alice],
    { sign: sender.sign },
    nodeCrypto(),
  );
  const agent = createAgent({
    url: server.url,
    credential: TEST_ADMIN_KEY,
    signer: { sign: sender.sign },
    tenantId: sender.tenantId,
    storeId: sender.storeId,
    sourceAgentId: sender.agentId,
    agentKeyId: sender.keyId,
    sequencerKey: server.publicKey,
  });
  const { receipt } = await agent.appendSigned(signed);
  await agent.close();
  expect(receipt.sequenceNumber).toBe(1n);

  const reader = createReader({
    transport: testTransport(server.url),
    credential: TEST_ADMIN_KEY,
    tenantId: sender.tenantId,
    storeId: sender.storeId,
    sequencerKey: server.publicKey,
  });
  const [se] = (await reader.pull()).events;
  const event = se?.event;
  expect(event?.payloadKind).toBe(PayloadKind.ENCRYPTED);
  expect(event?.payload).toHaveLength(0); // the server never sees the plaintext
  expect(await decryptPayload(event as NonNullable<typeof event>, bob)).toEqual(payload);
  expect(await decryptPayload(event as NonNullable<typeof event>, alice)).toEqual(payload);
  await expect(
    decryptPayload(event as NonNullable<typeof event>, generateRecipientKey(2)),
  ).rejects.toMatchObject({
    reason: "bad_event",
  });
});
