// PullEvents and GetEntityHistory against a real PostgreSQL through a real gRPC client: paging and filters
// compared with a reference computed here, independent verification of every event, and bad input.
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import type { SequencedEvent } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../src/client/signEvent.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { appendAll, expectVerified } from "./support/reads.js";
import { startTestSequencer, TEST_ADMIN_KEY, testTransport, withCredential } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let seq: Client<typeof SequencerService>;
let keys: Client<typeof KeyRegistryService>;
let sequencerKey: Uint8Array;
let agents: TestAgent[];
const agentKeys = new Map<string, Uint8Array>();
/** The reference: every event of the stream in sequence order (index i = sequence i + 1). */
let log: SignedEvent[];

const TYPES = ["order.created", "order.paid", "order.shipped", "order.cancelled"];
const N = 650;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
  const transport = testTransport(server.url);
  seq = createClient(SequencerService, transport);
  keys = createClient(KeyRegistryService, transport);
  sequencerKey = (await seq.getSequencerInfo({})).signingKeys[0]?.publicKey as Uint8Array;
  const first = createAgent();
  agents = [first, createAgent({ tenantId: first.tenantId, storeId: first.storeId })];
  for (const a of agents) {
    await registerAgent(keys, a);
    agentKeys.set(a.agentId, a.publicKey);
  }
  log = Array.from({ length: N }, (_, i) =>
    (agents[i % 3 === 0 ? 1 : 0] as TestAgent).event({
      entityType: i % 5 === 0 ? "customer" : "order",
      entityId: `e-${i % 7}`,
      eventType: TYPES[i % TYPES.length] as string,
      payload: { i, note: i % 11 === 0 ? "ünïcødé ✓" : "plain" },
    }),
  );
  const sequences = await appendAll(seq, log, 200);
  expect(sequences).toEqual(log.map((_, i) => BigInt(i + 1)));
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

interface Filter {
  entityType?: string;
  entityId?: string;
  eventTypes?: string[];
  sourceAgentIds?: string[];
}

const stream = () => ({ tenantId: agents[0]?.tenantId ?? "", storeId: agents[0]?.storeId ?? "" });

/** Pages through PullEvents and returns every event and the cursors seen. */
async function pullAll(filter: Filter | undefined, limit: number, from = 1n) {
  const events: SequencedEvent[] = [];
  let cursor = from;
  for (let pages = 0; pages < 10_000; pages++) {
    const res = await seq.pullEvents({
      ...stream(),
      fromSequence: cursor,
      limit,
      ...(filter ? { filter } : {}),
    });
    expect(res.headSequence).toBe(BigInt(N));
    expect(res.events.length).toBeLessThanOrEqual(limit);
    expect(res.nextSequence).toBeGreaterThanOrEqual(cursor);
    events.push(...res.events);
    if (!res.hasMore) {
      expect(res.nextSequence).toBe(BigInt(N + 1));
      return events;
    }
    expect(res.nextSequence).toBeGreaterThan(cursor);
    cursor = res.nextSequence;
  }
  throw new Error("paging did not end");
}

function expectSameEvents(got: readonly SequencedEvent[], want: readonly SignedEvent[]): void {
  expect(got.map((e) => e.event?.eventId)).toEqual(want.map((e) => e.eventId));
  const seqOf = new Map(log.map((e, i) => [e.eventId, BigInt(i + 1)]));
  expect(got.map((e) => e.receipt?.sequenceNumber)).toEqual(want.map((e) => seqOf.get(e.eventId)));
}

describe("PullEvents", () => {
  it("pages through the whole stream in order, every event verifying on its own", async () => {
    const events = await pullAll(undefined, 97);
    expectSameEvents(events, log);
    expectVerified(events, agentKeys, sequencerKey);
    // The exact signed created_at string and the signature travel unchanged.
    expect(events[5]?.event?.createdAt).toBe(log[5]?.createdAt);
    expect(
      Buffer.from(events[5]?.event?.agentSignature ?? []).equals(Buffer.from(log[5]?.agentSignature ?? [])),
    ).toBe(true);
  });

  it("starts at the cursor (inclusive); 0 means the start; the default page is 100", async () => {
    const page = await seq.pullEvents({ ...stream(), fromSequence: 600n, limit: 10 });
    expect(page.events.map((e) => e.receipt?.sequenceNumber)).toEqual(
      Array.from({ length: 10 }, (_, i) => BigInt(600 + i)),
    );
    expect(page.nextSequence).toBe(610n);
    expect(page.hasMore).toBe(true);
    const start = await seq.pullEvents({ ...stream(), fromSequence: 0n, limit: 0 });
    expect(start.events.length).toBe(100);
    expect(start.events[0]?.receipt?.sequenceNumber).toBe(1n);
    const atEnd = await seq.pullEvents({ ...stream(), fromSequence: BigInt(N + 1) });
    expect(atEnd).toMatchObject({
      events: [],
      nextSequence: BigInt(N + 1),
      hasMore: false,
      headSequence: BigInt(N),
    });
  });

  it.each<[string, Filter, (e: SignedEvent) => boolean]>([
    ["entity type", { entityType: "customer" }, (e) => e.entityType === "customer"],
    [
      "entity",
      { entityType: "order", entityId: "e-3" },
      (e) => e.entityType === "order" && e.entityId === "e-3",
    ],
    [
      "event types",
      { eventTypes: ["order.paid", "order.cancelled"] },
      (e) => e.eventType === "order.paid" || e.eventType === "order.cancelled",
    ],
    ["source agent", { sourceAgentIds: [] }, () => true],
    [
      "everything at once",
      { entityType: "order", entityId: "e-1", eventTypes: ["order.created", "order.shipped"] },
      (e) =>
        e.entityType === "order" &&
        e.entityId === "e-1" &&
        ["order.created", "order.shipped"].includes(e.eventType),
    ],
  ])("filters by %s, exactly as the reference", async (_, filter, keep) => {
    for (const limit of [7, 1000]) {
      expectSameEvents(await pullAll(filter, limit), log.filter(keep));
    }
  });

  it("filters by source agent (UUIDs in any case)", async () => {
    const agent = agents[1] as TestAgent;
    const want = log.filter((e) => e.sourceAgentId === agent.agentId);
    expect(want.length).toBeGreaterThan(0);
    expectSameEvents(await pullAll({ sourceAgentIds: [agent.agentId.toUpperCase()] }, 50), want);
    const none = await seq.pullEvents({ ...stream(), filter: { sourceAgentIds: [crypto.randomUUID()] } });
    expect(none).toMatchObject({ events: [], nextSequence: BigInt(N + 1), hasMore: false });
  });

  it("gives an empty page for an unknown stream, whatever the cursor", async () => {
    for (const fromSequence of [0n, 1n, 50n]) {
      const res = await seq.pullEvents({
        tenantId: crypto.randomUUID(),
        storeId: crypto.randomUUID(),
        fromSequence,
      });
      expect(res.events).toEqual([]);
      expect(res.headSequence).toBe(0n);
      expect(res.hasMore).toBe(false);
    }
  });

  it("answers JSON clients with ordinary messages", async () => {
    const json = createClient(
      SequencerService,
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: "2",
        useBinaryFormat: false,
        interceptors: [withCredential(TEST_ADMIN_KEY)],
      }),
    );
    const res = await json.pullEvents({ ...stream(), fromSequence: 3n, limit: 5 });
    expectSameEvents(res.events, log.slice(2, 7));
    expectVerified(res.events, agentKeys, sequencerKey);
  });
});

describe("encrypted events", () => {
  it("come back with their VES-ENC-1 envelope and verify on their own", async () => {
    const { payloadAad, payloadCipherHash, recipientsHash } = await import(
      "../src/crypto/encryptedPayload.js"
    );
    const { eventSigningHash } = await import("../src/crypto/eventSigningHash.js");
    const { nativeSha256 } = await import("../src/crypto/native.js");
    const { PayloadKind } = await import("../gen/ves/sequencer/v1/event_pb.js");
    const agent = createAgent(); // a stream of its own
    await registerAgent(keys, agent);
    const own = { tenantId: agent.tenantId, storeId: agent.storeId };
    const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
    const fields = {
      vesVersion: 1,
      ...own,
      eventId: crypto.randomUUID(),
      sourceAgentId: agent.agentId,
      agentKeyId: agent.keyId,
      entityType: "secret",
      entityId: "s-1",
      eventType: "secret.stored",
      createdAt: new Date().toISOString(),
      payloadKind: 1 as const,
      payloadPlainHash: rnd(32),
    };
    const enc = {
      encVersion: 1,
      aead: "AES-256-GCM",
      nonce: rnd(12),
      ciphertext: rnd(77),
      tag: rnd(16),
      hpke: { mode: "base", kem: "X25519-HKDF-SHA256", kdf: "HKDF-SHA256", aead: "AES-256-GCM" },
      recipients: [
        { recipientKid: 1, enc: rnd(32), ct: rnd(48) },
        { recipientKid: 2, enc: rnd(32), ct: rnd(48) },
      ],
    };
    const payloadCipherHash_ = payloadCipherHash(nativeSha256, {
      nonce: enc.nonce,
      payloadAad: payloadAad(nativeSha256, fields),
      ciphertext: enc.ciphertext,
      tag: enc.tag,
      recipientsHash: recipientsHash(nativeSha256, enc.recipients),
    });
    const signing = eventSigningHash(nativeSha256, { ...fields, payloadCipherHash: payloadCipherHash_ });
    const res = await seq.appendBatch({
      batchId: "encrypted",
      events: [
        {
          ...fields,
          payloadKind: PayloadKind.ENCRYPTED,
          payloadEncrypted: enc,
          payloadCipherHash: payloadCipherHash_,
          agentSignature: agent.sign(signing),
          agentSignatureScheme: 1,
        },
      ],
    });
    expect(res.result?.acceptedCount).toBe(1);
    const history = await seq.getEntityHistory({ ...own, entityType: "secret", entityId: "s-1" });
    const got = history.events[0];
    expect(got?.event?.payloadEncrypted?.ciphertext).toEqual(enc.ciphertext);
    expect(got?.event?.payloadEncrypted?.recipients.map((r) => r.recipientKid)).toEqual([1, 2]);
    expectVerified(history.events, new Map([[agent.agentId, agent.publicKey]]), sequencerKey);
    const pulled = await seq.pullEvents({
      ...own,
      filter: { entityType: "secret" },
    });
    expect(pulled.events).toEqual(history.events);
  });
});

describe("GetEntityHistory", () => {
  it("pages through an entity's events in order with versions and the current version", async () => {
    const want = log.filter((e) => e.entityType === "order" && e.entityId === "e-2");
    const got: SequencedEvent[] = [];
    let from = 0n;
    for (;;) {
      const res = await seq.getEntityHistory({
        ...stream(),
        entityType: "order",
        entityId: "e-2",
        fromVersion: from,
        limit: 9,
      });
      expect(res.currentVersion).toBe(BigInt(want.length));
      got.push(...res.events);
      if (!res.hasMore) break;
      from = res.nextVersion;
    }
    expectSameEvents(got, want);
    expect(got.map((e) => e.entityVersion)).toEqual(want.map((_, i) => BigInt(i + 1)));
    expectVerified(got, agentKeys, sequencerKey);
  });

  it("gives an empty history for an unknown entity and OUT_OF_RANGE past the current version + 1", async () => {
    const none = await seq.getEntityHistory({ ...stream(), entityType: "order", entityId: "nope" });
    expect(none).toMatchObject({ events: [], currentVersion: 0n, hasMore: false });
    const current = (
      await seq.getEntityHistory({ ...stream(), entityType: "customer", entityId: "e-0", limit: 1 })
    ).currentVersion;
    const err = await seq
      .getEntityHistory({ ...stream(), entityType: "customer", entityId: "e-0", fromVersion: current + 2n })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.OutOfRange);
    expect((err as ConnectError).findDetails(ErrorDetailSchema)[0]?.field).toBe("from_version");
  });
});

describe("bad input", () => {
  async function expectError(call: Promise<unknown>, code: Code, field: string, message?: RegExp) {
    const err = await call.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code, err?.rawMessage).toBe(code);
    expect(err?.findDetails(ErrorDetailSchema)[0]?.field).toBe(field);
    if (message !== undefined) expect(err?.rawMessage).toMatch(message);
    return err;
  }

  it("is OUT_OF_RANGE for a cursor beyond head + 1, with the head", async () => {
    const err = await expectError(
      seq.pullEvents({ ...stream(), fromSequence: BigInt(N + 2) }),
      Code.OutOfRange,
      "from_sequence",
      new RegExp(`expected at most ${N + 1}.*got ${N + 2}.*head is ${N}`),
    );
    expect(err?.findDetails(ErrorDetailSchema)[0]?.expected).toBe(`<= ${N + 1}`);
  });

  it("is INVALID_ARGUMENT naming the field for limits, ids and filters out of range", async () => {
    await expectError(
      seq.pullEvents({ ...stream(), limit: 1001 }),
      Code.InvalidArgument,
      "limit",
      /1\.\.1000.*got 1001/,
    );
    await expectError(seq.pullEvents({ ...stream(), tenantId: "t1" }), Code.InvalidArgument, "tenant_id");
    await expectError(seq.pullEvents({ ...stream(), storeId: "" }), Code.InvalidArgument, "store_id");
    await expectError(
      seq.pullEvents({ ...stream(), filter: { eventTypes: Array.from({ length: 33 }, (_, i) => `t${i}`) } }),
      Code.InvalidArgument,
      "filter.event_types",
    );
    await expectError(
      seq.pullEvents({ ...stream(), filter: { eventTypes: ["ok", ""] } }),
      Code.InvalidArgument,
      "filter.event_types[1]",
    );
    await expectError(
      seq.pullEvents({ ...stream(), filter: { sourceAgentIds: ["agent-7"] } }),
      Code.InvalidArgument,
      "filter.source_agent_ids[0]",
      /a UUID.*"agent-7"/,
    );
    await expectError(
      seq.pullEvents({ ...stream(), filter: { entityId: "e-1" } }),
      Code.InvalidArgument,
      "filter.entity_type",
    );
    await expectError(
      seq.pullEvents({ ...stream(), filter: { entityType: "x".repeat(129) } }),
      Code.InvalidArgument,
      "filter.entity_type",
      /1\.\.128 UTF-8 bytes, got 129/,
    );
    await expectError(
      seq.getEntityHistory({ ...stream(), entityType: "", entityId: "e-1" }),
      Code.InvalidArgument,
      "entity_type",
    );
    await expectError(
      seq.getEntityHistory({ ...stream(), entityType: "order", entityId: "e-1", limit: 5000 }),
      Code.InvalidArgument,
      "limit",
    );
  });
});
