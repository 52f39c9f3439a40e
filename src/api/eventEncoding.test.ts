// The direct SequencedEvent writer must produce exactly protobuf-es's bytes, for every shape of event.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SequencedEventSchema } from "../../gen/ves/sequencer/v1/event_pb.js";
import {
  AppendResponseSchema,
  SubscribeResponseSchema,
  SubscriptionEventsSchema,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { StoredEvent } from "../domain/event.js";
import { sequencedEventToProto } from "./convert.js";
import {
  encodedEvent,
  encodeSequencedEvent,
  eventsAsUnknownFields,
  subscriptionEventsField,
} from "./eventEncoding.js";

const bytes = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);

function event(
  overrides: Partial<StoredEvent> = {},
  receipt: Partial<StoredEvent["receipt"]> = {},
): StoredEvent {
  const base: StoredEvent = {
    vesVersion: 1,
    eventId: "0b6a8c9e-3f1d-4a7b-9c2e-5d4f3a2b1c0d",
    tenantId: "11111111-2222-4333-8444-555555555555",
    storeId: "66666666-7777-4888-9999-aaaaaaaaaaaa",
    sourceAgentId: "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff",
    agentKeyId: 1,
    entityType: "order",
    entityId: "order-1",
    eventType: "order.created",
    createdAt: "2025-01-01T00:00:00.123Z",
    payloadKind: 0,
    payload: new TextEncoder().encode('{"amount":100}'),
    payloadEncrypted: undefined,
    payloadPlainHash: bytes(32, 1),
    payloadCipherHash: bytes(32, 0),
    agentSignature: bytes(64, 2),
    agentSignatureScheme: 1,
    commandId: undefined,
    baseVersion: undefined,
    entityVersion: 1n,
    receipt: {
      sequencerId: "12345678-1234-4234-8234-123456789abc",
      sequencerKeyId: "ed25519:0123456789abcdef",
      tenantId: "11111111-2222-4333-8444-555555555555",
      storeId: "66666666-7777-4888-9999-aaaaaaaaaaaa",
      eventId: "0b6a8c9e-3f1d-4a7b-9c2e-5d4f3a2b1c0d",
      sequenceNumber: 42n,
      sequencedAt: new Date("2026-11-25T20:00:00.456Z"),
      eventSigningHash: bytes(32, 3),
      receiptHash: bytes(32, 4),
      sequencerSignature: bytes(64, 5),
      ...receipt,
    },
  };
  return { ...base, ...overrides };
}

/** The message bytes of an encoded event (its length prefix checked and removed). */
function body(encoded: Uint8Array): Uint8Array {
  const reader = new BinaryReader(encoded);
  return new Uint8Array(reader.bytes()); // a plain copy, so decoded bytes fields compare equal
}

function expectSameAsReflection(e: StoredEvent): void {
  const expected = toBinary(SequencedEventSchema, sequencedEventToProto(e));
  const encoded = encodeSequencedEvent(e);
  expect(Buffer.from(body(encoded)).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
  expect(fromBinary(SequencedEventSchema, body(encoded))).toEqual(sequencedEventToProto(e));
}

describe("encodeSequencedEvent", () => {
  it("writes protobuf-es's bytes for a plaintext event", () => {
    expectSameAsReflection(event());
  });

  it("writes optional fields, zero values, large numbers and non-ASCII strings as protobuf-es does", () => {
    expectSameAsReflection(event({ commandId: "aaaaaaaa-0000-4000-8000-000000000000", baseVersion: 0n }));
    expectSameAsReflection(event({ baseVersion: 1234567890123n, entityVersion: 2n ** 40n }));
    expectSameAsReflection(event({ entityType: "Bestellung", entityId: "zürich-😀", eventType: "é.ü" }));
    expectSameAsReflection(event({ agentKeyId: 0, agentSignatureScheme: 0, vesVersion: 1 }));
    expectSameAsReflection(event({ agentKeyId: 4294967295 }));
    expectSameAsReflection(event({ payload: bytes(70_000, 9) }));
    expectSameAsReflection(event({}, { sequenceNumber: 1n, sequencedAt: new Date(1_700_000_000_000) }));
    expectSameAsReflection(event({}, { sequenceNumber: 2n ** 62n }));
  });

  it("falls back to reflection for encrypted payloads and still matches", () => {
    expectSameAsReflection(
      event({
        payloadKind: 1,
        payload: undefined,
        payloadEncrypted: {
          encVersion: 1,
          aead: "AES-256-GCM",
          nonce: bytes(12),
          ciphertext: bytes(40),
          tag: bytes(16),
          hpke: { mode: "base", kem: "X25519-HKDF-SHA256", kdf: "HKDF-SHA256", aead: "AES-256-GCM" },
          recipients: [{ recipientKid: 1, enc: bytes(32), ct: bytes(48) }],
        },
      }),
    );
  });

  it("matches protobuf-es for arbitrary strings and numbers", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 40 }),
        fc.string({ maxLength: 300 }),
        fc.bigInt({ min: 1n, max: 2n ** 53n }),
        fc.integer({ min: 0, max: 4294967295 }),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (entityId, eventType, seq, keyId, ms) => {
          expectSameAsReflection(
            event(
              { entityId, eventType, agentKeyId: keyId },
              { sequenceNumber: seq, sequencedAt: new Date(ms) },
            ),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("encodes a shared event once", () => {
    const e = event();
    expect(encodedEvent(e)).toBe(encodedEvent(e));
  });

  it("joins events into one raw field that decodes as the repeated field, shared or not", () => {
    const events = [
      event(),
      event({ entityId: "ö-2" }, { sequenceNumber: 43n }),
      event({ payload: bytes(300) }),
    ];
    for (const shared of [false, true]) {
      const wire = toBinary(SubscriptionEventsSchema, {
        $typeName: "ves.sequencer.v1.SubscriptionEvents",
        events: [],
        nextSequence: 44n,
        $unknown: eventsAsUnknownFields(1, events, shared),
      });
      const decoded = fromBinary(SubscriptionEventsSchema, new Uint8Array(wire));
      expect(decoded.nextSequence).toBe(44n);
      expect(decoded.events).toEqual(events.map(sequencedEventToProto));
    }
    expect(eventsAsUnknownFields(1, [], false)).toEqual([]);
  });

  it("writes a whole SubscriptionEvents message as the response's raw field, byte for byte, shared once", () => {
    const events = [
      event(),
      event({ entityId: "ö-2" }, { sequenceNumber: 43n }),
      event({ payload: bytes(300) }),
    ];
    const typed = {
      $typeName: "ves.sequencer.v1.SubscriptionEvents" as const,
      events: events.map(sequencedEventToProto),
      nextSequence: 44n,
    };
    for (const shared of [false, true]) {
      const subscribe = toBinary(SubscribeResponseSchema, {
        $typeName: "ves.sequencer.v1.SubscribeResponse",
        kind: { case: undefined },
        $unknown: [subscriptionEventsField(1, events, 44n, shared)],
      });
      const expected = toBinary(SubscribeResponseSchema, {
        $typeName: "ves.sequencer.v1.SubscribeResponse",
        kind: { case: "events", value: typed },
      });
      expect(Buffer.from(subscribe).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
      const append = fromBinary(
        AppendResponseSchema,
        toBinary(AppendResponseSchema, {
          $typeName: "ves.sequencer.v1.AppendResponse",
          kind: { case: undefined },
          $unknown: [subscriptionEventsField(3, events, 44n, shared)],
        }),
      );
      expect(append.kind.case).toBe("events");
      expect(append.kind.value).toMatchObject({
        nextSequence: 44n,
        events: typed.events.map((e) => expect.objectContaining({ entityVersion: e.entityVersion })),
      });
    }
    const field = subscriptionEventsField(1, events, 44n, true);
    expect(subscriptionEventsField(1, events, 44n, true)).toBe(field);
    expect(subscriptionEventsField(1, events.slice(0, 2), 43n, true)).not.toBe(field);
  });
});
