// Tests for the VES-SIG-1 signing preimage layout and its field checks (docs/protocol.md §2.3).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, encStr, u32be, uuidToBytes, ZERO32 } from "./bytes.js";
import { DOMAIN_EVENTSIG } from "./domains.js";
import { eventSigningHash, eventSigningPreimage, type SignedEventFields } from "./eventSigningHash.js";
import { nativeSha256 } from "./native.js";
import { nobleSha256 } from "./sha256.js";

const base: SignedEventFields = {
  vesVersion: 1,
  tenantId: "00000000-0000-0000-0000-000000000001",
  storeId: "00000000-0000-0000-0000-000000000002",
  eventId: "11111111-1111-1111-1111-111111111111",
  sourceAgentId: "22222222-2222-2222-2222-222222222222",
  agentKeyId: 1,
  entityType: "InventoryItem",
  entityId: "WIDGET-001",
  eventType: "Adjusted",
  createdAt: "2025-01-01T00:00:00Z",
  payloadKind: 0,
  payloadPlainHash: ZERO32,
  payloadCipherHash: ZERO32,
};

/** The preimage written the slow, obvious way. */
function reference(f: SignedEventFields): Uint8Array {
  return concatBytes(
    DOMAIN_EVENTSIG,
    u32be(f.vesVersion),
    uuidToBytes(f.tenantId),
    uuidToBytes(f.storeId),
    uuidToBytes(f.eventId),
    uuidToBytes(f.sourceAgentId),
    u32be(f.agentKeyId),
    encStr(f.entityType),
    encStr(f.entityId),
    encStr(f.eventType),
    encStr(f.createdAt),
    u32be(f.payloadKind),
    f.payloadPlainHash,
    f.payloadCipherHash,
  );
}

const fieldsArb = fc.record({
  vesVersion: fc.integer({ min: 0, max: 0xffffffff }),
  tenantId: fc.uuid(),
  storeId: fc.uuid(),
  eventId: fc.uuid(),
  sourceAgentId: fc.uuid(),
  agentKeyId: fc.integer({ min: 0, max: 0xffffffff }),
  entityType: fc.string({ unit: "grapheme", maxLength: 20 }),
  entityId: fc.string({ unit: "grapheme", maxLength: 20 }),
  eventType: fc.string({ unit: "grapheme", maxLength: 20 }),
  createdAt: fc.string({ maxLength: 35 }),
  payloadKind: fc.constantFrom<0 | 1>(0, 1),
  payloadPlainHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  payloadCipherHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
});

describe("eventSigningPreimage", () => {
  it("is 171 bytes plus the four strings' UTF-8 bytes", () => {
    expect(
      eventSigningPreimage({ ...base, entityType: "", entityId: "", eventType: "", createdAt: "" }),
    ).toHaveLength(171);
    expect(eventSigningPreimage(base)).toHaveLength(222);
    expect(eventSigningPreimage({ ...base, entityType: "é😀" })).toHaveLength(222 - 13 + 6);
  });

  it("matches the field-by-field layout for any fields", () => {
    fc.assert(
      fc.property(fieldsArb, (f) => {
        expect(eventSigningPreimage(f)).toEqual(reference(f));
        expect(eventSigningHash(nativeSha256, f)).toEqual(nobleSha256(reference(f)));
      }),
    );
  });

  it("separates adjacent strings by their length prefixes", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 10 }),
        fc.string({ minLength: 1, maxLength: 10 }),
        (a, b) => {
          const joined = eventSigningHash(nativeSha256, { ...base, entityType: a + b, entityId: "" });
          const split = eventSigningHash(nativeSha256, { ...base, entityType: a, entityId: b });
          expect(joined).not.toEqual(split);
        },
      ),
    );
  });

  it("reads UUIDs case-insensitively (the bytes are what is signed)", () => {
    const upper = { ...base, eventId: "ABCDEFAB-1111-1111-1111-111111111111" };
    const lower = { ...base, eventId: "abcdefab-1111-1111-1111-111111111111" };
    expect(eventSigningPreimage(upper)).toEqual(eventSigningPreimage(lower));
  });

  it("names the malformed field", () => {
    expect(() => eventSigningPreimage({ ...base, tenantId: "xyz" })).toThrow(
      new RangeError('"tenant_id" expected a UUID (8-4-4-4-12 hex), got "xyz"'),
    );
    expect(() => eventSigningPreimage({ ...base, sourceAgentId: "" })).toThrow(
      /"source_agent_id" expected a UUID/,
    );
    expect(() => eventSigningPreimage({ ...base, agentKeyId: -1 })).toThrow(
      new RangeError('"agent_key_id" expected an integer 0..4294967295, got -1'),
    );
    expect(() => eventSigningPreimage({ ...base, vesVersion: 2 ** 32 })).toThrow(/"ves_version"/);
    expect(() => eventSigningPreimage({ ...base, payloadKind: 2 as 0 })).toThrow(
      new RangeError('"payload_kind" expected 0 (plaintext) or 1 (encrypted), got 2'),
    );
    expect(() => eventSigningPreimage({ ...base, payloadPlainHash: new Uint8Array(31) })).toThrow(
      new RangeError('"payload_plain_hash" expected 32 bytes, got 31'),
    );
    expect(() => eventSigningPreimage({ ...base, payloadCipherHash: new Uint8Array(33) })).toThrow(
      new RangeError('"payload_cipher_hash" expected 32 bytes, got 33'),
    );
    expect(() => eventSigningPreimage({ ...base, createdAt: "2025\ud800" })).toThrow(
      new RangeError('"created_at" expected well-formed Unicode, got a lone surrogate at index 4'),
    );
  });
});
