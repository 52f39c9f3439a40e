// Ingest semantics against a real PostgreSQL through a real gRPC client: receipts, replay, conflicts,
// command ids, base_version, key lifecycle, tampering, batch-level errors, and that rejections write nothing.
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/ves/sequencer/v1/error_detail_pb.js";
import { type Event, RejectionReason } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { verifyReceipt } from "../src/client/verifyReceipt.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let sql: postgres.Sql;
let seq: Client<typeof SequencerService>;
let keys: Client<typeof KeyRegistryService>;
let sequencerKey: Uint8Array;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url);
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const transport = testTransport(server.url);
  seq = createClient(SequencerService, transport);
  keys = createClient(KeyRegistryService, transport);
  const info = await seq.getSequencerInfo({});
  sequencerKey = info.signingKeys[0]?.publicKey as Uint8Array;
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await server?.stop();
  await db?.drop();
});

async function newAgent(opts: Parameters<typeof createAgent>[0] = {}): Promise<TestAgent> {
  const agent = createAgent(opts);
  await registerAgent(keys, agent);
  return agent;
}

async function countEvents(agent: TestAgent): Promise<number> {
  const [row] = await sql<{ n: bigint }[]>`
    select count(*)::bigint as n from events where tenant_id = ${agent.tenantId} and store_id = ${agent.storeId}`;
  return Number(row?.n ?? 0n);
}

async function append(events: Event[], batchId = crypto.randomUUID()) {
  const res = await seq.appendBatch({ batchId, events });
  if (res.result === undefined) throw new Error("no result");
  return res.result;
}

function rejectionOf(result: Awaited<ReturnType<typeof append>>, i: number) {
  const r = result.results[i];
  if (r?.outcome.case !== "rejection") throw new Error(`event ${i} was not rejected: ${r?.outcome.case}`);
  return r.outcome.value;
}

describe("append", () => {
  it("sequences a batch from 1 with receipts that verify against the sequencer key", async () => {
    const agent = await newAgent();
    const events = [agent.event(), agent.event(), agent.event()];
    const result = await append(events.map(signedEventToProto));
    expect(result.acceptedCount).toBe(3);
    expect(result.headSequence).toBe(3n);
    for (const [i, r] of result.results.entries()) {
      expect(r.outcome.case).toBe("receipt");
      const receipt = r.outcome.value as NonNullable<Extract<typeof r.outcome, { case: "receipt" }>["value"]>;
      expect(receipt.sequenceNumber).toBe(BigInt(i + 1));
      expect(receipt.sequencerId).toBe(server.sequencerId);
      expect(receipt.sequencerKeyId).toBe(server.keyId);
      expect(
        verifyReceipt(receipt, sequencerKey, { expectedSigningHash: events[i]?.signingHash as Uint8Array }),
      ).toEqual({
        valid: true,
      });
    }
    const head = await seq.getHead({ tenantId: agent.tenantId, storeId: agent.storeId });
    expect(head.headSequence).toBe(3n);
  });

  it("returns the stored receipt unchanged for an exact replay and writes nothing", async () => {
    const agent = await newAgent();
    const events = [agent.event(), agent.event()].map(signedEventToProto);
    const first = await append(events);
    const again = await append(events);
    expect(again.acceptedCount).toBe(0);
    expect(again.replayedCount).toBe(2);
    expect(again.headSequence).toBe(2n);
    for (const [i, r] of again.results.entries()) {
      expect(r.replayed).toBe(true);
      expect(r.outcome).toEqual(first.results[i]?.outcome);
    }
    expect(await countEvents(agent)).toBe(2);
  });

  it("rejects a conflicting duplicate event_id (same id, other content) and writes nothing", async () => {
    const agent = await newAgent();
    const original = agent.event();
    await append([signedEventToProto(original)]);
    const other = agent.event({ eventId: original.eventId, payload: { changed: true } });
    const result = await append([signedEventToProto(other)]);
    const rejection = rejectionOf(result, 0);
    expect(rejection.reason).toBe(RejectionReason.EVENT_ID_CONFLICT);
    expect(rejection.code).toBe("duplicate_event_id");
    expect(rejection.field).toBe("event_id");
    expect(await countEvents(agent)).toBe(1);
  });

  it("rejects another tenant's event_id without naming that tenant's stream", async () => {
    const owner = await newAgent();
    const intruder = await newAgent();
    const taken = owner.event();
    await append([signedEventToProto(taken)]);
    const result = await append([signedEventToProto(intruder.event({ eventId: taken.eventId }))]);
    const rejection = rejectionOf(result, 0);
    expect(rejection.reason).toBe(RejectionReason.EVENT_ID_CONFLICT);
    expect(rejection.message).toBe(`"event_id" ${taken.eventId} is already used`);
    for (const text of [rejection.message, rejection.expected, rejection.actual]) {
      expect(text).not.toContain(owner.tenantId);
      expect(text).not.toContain(owner.storeId);
    }
    // In the caller's own stream the difference is still explained.
    const own = await append([signedEventToProto(owner.event({ eventId: taken.eventId }))]);
    expect(rejectionOf(own, 0).message).toMatch(/is already used: its signed contents differ/);
    expect(await countEvents(intruder)).toBe(0);
  });

  it("rejects an event_id repeated inside one batch, keeping the first", async () => {
    const agent = await newAgent();
    const e = signedEventToProto(agent.event());
    const result = await append([e, e]);
    expect(result.results[0]?.outcome.case).toBe("receipt");
    expect(rejectionOf(result, 1).reason).toBe(RejectionReason.DUPLICATE_EVENT_ID);
    expect(await countEvents(agent)).toBe(1);
  });

  it("deduplicates command_id per stream", async () => {
    const agent = await newAgent();
    const commandId = crypto.randomUUID();
    const first = await append([signedEventToProto(agent.event({ commandId }))]);
    expect(first.acceptedCount).toBe(1);
    const second = await append([signedEventToProto(agent.event({ commandId }))]);
    expect(rejectionOf(second, 0).reason).toBe(RejectionReason.DUPLICATE_COMMAND_ID);
    const inBatch = await append([
      signedEventToProto(agent.event({ commandId: crypto.randomUUID() })),
      signedEventToProto(agent.event({ commandId: "AAAAAAAA-0000-4000-8000-000000000000" })),
      signedEventToProto(agent.event({ commandId: "aaaaaaaa-0000-4000-8000-000000000000" })),
    ]);
    expect(inBatch.acceptedCount).toBe(2);
    expect(rejectionOf(inBatch, 2).reason).toBe(RejectionReason.DUPLICATE_COMMAND_ID);
    expect(await countEvents(agent)).toBe(3);
  });

  it("checks base_version against the entity's version and never burns a sequence number", async () => {
    const agent = await newAgent();
    const entity = { entityType: "account", entityId: "acct-1" };
    const result = await append(
      [
        agent.event({ ...entity, baseVersion: 0n }),
        agent.event({ ...entity, baseVersion: 0n }), // stale: the entity is at 1 now
        agent.event({ ...entity, baseVersion: 1n }),
        agent.event({ ...entity }), // no check: always accepted, bumps the version
        agent.event({ ...entity, baseVersion: 3n }),
      ].map(signedEventToProto),
    );
    const conflict = rejectionOf(result, 1);
    expect(conflict.reason).toBe(RejectionReason.VERSION_CONFLICT);
    // As the reference: expected = the client's base_version, actual = the entity's current version.
    expect(conflict.expected).toBe("0");
    expect(conflict.actual).toBe("1");
    expect(conflict.code).toBe("version_conflict: expected 0, actual 1");
    expect(result.acceptedCount).toBe(4);
    const seqs = result.results.flatMap((r) =>
      r.outcome.case === "receipt" ? [r.outcome.value.sequenceNumber] : [],
    );
    expect(seqs).toEqual([1n, 2n, 3n, 4n]);
    const later = await append([signedEventToProto(agent.event({ ...entity, baseVersion: 3n }))]);
    expect(rejectionOf(later, 0).actual).toBe("4");
  });

  it("rejects tampered payloads, tampered signatures and unknown keys, and writes nothing", async () => {
    const agent = await newAgent();
    const good = agent.event();
    const tamperedPayload = {
      ...signedEventToProto(agent.event()),
      payload: new TextEncoder().encode('{"n":999}'),
    };
    const badSig = signedEventToProto(agent.event());
    badSig.agentSignature = Uint8Array.from(badSig.agentSignature, (b, i) => (i === 0 ? b ^ 1 : b));
    const unknownKey = signedEventToProto(agent.event({ agentKeyId: 99 }));
    const result = await append([tamperedPayload as Event, badSig, unknownKey, signedEventToProto(good)]);
    expect(rejectionOf(result, 0).reason).toBe(RejectionReason.INVALID_PAYLOAD_HASH);
    expect(rejectionOf(result, 1).reason).toBe(RejectionReason.INVALID_SIGNATURE);
    expect(rejectionOf(result, 2).reason).toBe(RejectionReason.UNKNOWN_KEY);
    expect(rejectionOf(result, 2).code).toBe("agent_key_invalid");
    expect(result.acceptedCount).toBe(1);
    expect(
      result.results[3]?.outcome.case === "receipt" && result.results[3].outcome.value.sequenceNumber,
    ).toBe(1n);
    expect(await countEvents(agent)).toBe(1);
  });

  it("computes a plaintext payload hash the client left empty", async () => {
    const agent = await newAgent();
    const e = signedEventToProto(agent.event());
    const withoutHash = { ...e, payloadPlainHash: new Uint8Array(0) } as Event;
    const result = await append([withoutHash]);
    expect(result.acceptedCount).toBe(1);
    const [row] = await sql<
      { h: Uint8Array }[]
    >`select payload_plain_hash as h from events where event_id = ${e.eventId}`;
    expect(Buffer.from(row?.h ?? []).equals(Buffer.from(e.payloadPlainHash))).toBe(true);
  });

  it("rejects a revoked key, a key not yet valid and an expired key", async () => {
    const revoked = await newAgent();
    await append([signedEventToProto(revoked.event())]);
    await keys.revokeAgentKey({
      tenantId: revoked.tenantId,
      agentId: revoked.agentId,
      keyId: revoked.keyId,
      reason: "leaked",
    });
    const r1 = await append([signedEventToProto(revoked.event())]);
    expect(rejectionOf(r1, 0).reason).toBe(RejectionReason.KEY_REVOKED);
    expect(await countEvents(revoked)).toBe(1);

    const future = createAgent();
    await registerAgent(keys, future, { validFrom: new Date(Date.now() + 3_600_000) });
    expect(rejectionOf(await append([signedEventToProto(future.event())]), 0).reason).toBe(
      RejectionReason.KEY_NOT_YET_VALID,
    );

    const expired = createAgent();
    await registerAgent(keys, expired, {
      validFrom: new Date(Date.now() - 7_200_000),
      validTo: new Date(Date.now() - 3_600_000),
    });
    expect(rejectionOf(await append([signedEventToProto(expired.event())]), 0).reason).toBe(
      RejectionReason.KEY_EXPIRED,
    );
    expect(await countEvents(future)).toBe(0);
    expect(await countEvents(expired)).toBe(0);
  });

  it("gives a contested event_id to exactly one stream when two streams race for it", async () => {
    const pairs = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const [a, b] = [await newAgent(), await newAgent()];
        const eventId = crypto.randomUUID();
        return Promise.all([
          append([signedEventToProto(a.event({ eventId }))]),
          append([signedEventToProto(b.event({ eventId }))]),
        ]);
      }),
    );
    for (const [ra, rb] of pairs) {
      const outcomes = [ra.results[0]?.outcome, rb.results[0]?.outcome];
      expect(outcomes.filter((o) => o?.case === "receipt")).toHaveLength(1);
      const rejected = outcomes.find((o) => o?.case === "rejection");
      expect(rejected?.case === "rejection" && rejected.value.reason).toBe(RejectionReason.EVENT_ID_CONFLICT);
    }
  });

  it("names the field, the value and what was expected", async () => {
    const agent = await newAgent();
    const cases: [Partial<Event>, string, RegExp][] = [
      [{ eventId: "not-a-uuid" }, "event_id", /"event_id" expected a UUID.*got "not-a-uuid"/],
      [{ entityType: "" }, "entity_type", /"entity_type" expected 1\.\.128 UTF-8 bytes, got 0/],
      [
        { createdAt: "yesterday" },
        "created_at",
        /"created_at" expected an RFC 3339 date-time.*got "yesterday"/,
      ],
      [{ agentSignature: new Uint8Array(10) }, "agent_signature", /expected 64 bytes.*got 10 bytes/],
      [{ vesVersion: 2 }, "ves_version", /"ves_version" expected 1, got 2/],
      [{ payload: new TextEncoder().encode("{nope") }, "payload", /"payload" expected UTF-8 JSON text/],
    ];
    const result = await append(
      cases.map(([o]) => ({ ...signedEventToProto(agent.event()), ...o }) as Event),
    );
    for (const [i, [, field, message]] of cases.entries()) {
      const rejection = rejectionOf(result, i);
      expect(rejection.field).toBe(field);
      expect(rejection.message).toMatch(message);
    }
    expect(await countEvents(agent)).toBe(0);
  });

  it("answers the reference's reason strings (schema_validation: <field>, invalid_signature)", async () => {
    const agent = await newAgent();
    const cases: [Partial<Event>, string][] = [
      [{ entityType: "" }, "schema_validation: entity_type"],
      [{ entityId: "x".repeat(513) }, "schema_validation: entity_id"],
      [{ eventType: "e".repeat(257) }, "schema_validation: event_type"],
      [{ createdAt: "yesterday" }, "schema_validation: created_at"],
      [{ payloadKind: 0 }, "schema_validation: payload_kind"],
      [{ payload: new Uint8Array() }, "schema_validation: payload"],
      [{ agentSignatureScheme: 2 }, "invalid_signature"],
    ];
    const result = await append(
      cases.map(([o]) => ({ ...signedEventToProto(agent.event()), ...o }) as Event),
    );
    for (const [i, [, code]] of cases.entries()) expect(rejectionOf(result, i).code).toBe(code);
    expect(rejectionOf(result, 6).reason).toBe(RejectionReason.UNSUPPORTED_SIGNATURE_SCHEME);
    expect(await countEvents(agent)).toBe(0);
  });

  it("accepts a payload nested 127 levels deep and rejects 128, as the reference does", async () => {
    const agent = await newAgent();
    const nested = (n: number): unknown => {
      let v: unknown = [];
      for (let i = 1; i < n; i++) v = [v];
      return v;
    };
    const result = await append(
      [agent.event({ payload: nested(127) }), agent.event({ payload: nested(128) })].map(signedEventToProto),
    );
    expect(result.results[0]?.outcome.case).toBe("receipt");
    const deep = rejectionOf(result, 1);
    expect(deep.code).toBe("schema_validation: payload");
    expect(deep.message).toContain("at most 127 levels deep, got 128");
    expect(await countEvents(agent)).toBe(1);
  });

  it("refuses malformed batches as a whole with the field in the error details", async () => {
    const a = await newAgent();
    const b = createAgent();
    const expectError = async (events: Event[], code: Code, field: string, batchId = "b1") => {
      const err = await seq.appendBatch({ batchId, events }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(code);
      expect(err?.findDetails(ErrorDetailSchema)[0]?.field).toBe(field);
      return err;
    };
    await expectError([], Code.InvalidArgument, "events");
    await expectError([signedEventToProto(a.event())], Code.InvalidArgument, "batch_id", "");
    const mixed = await expectError(
      [signedEventToProto(a.event()), signedEventToProto(b.event())],
      Code.InvalidArgument,
      "events[1].tenant_id",
    );
    expect(mixed?.rawMessage).toContain(b.tenantId);
    await expectError(
      Array.from({ length: 1001 }, () => signedEventToProto(a.event())),
      Code.ResourceExhausted,
      "events",
    );
    expect(await countEvents(a)).toBe(0);
  });
});
