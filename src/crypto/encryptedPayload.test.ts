// Tests for the VES-ENC-1 AAD, recipients hash and cipher hash layouts (docs/protocol.md §2.2).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, encStr, u32be, uuidToBytes } from "./bytes.js";
import { DOMAIN_PAYLOAD_AAD, DOMAIN_PAYLOAD_CIPHER, DOMAIN_RECIPIENTS } from "./domains.js";
import { payloadAad, payloadCipherHash, recipientsHash } from "./encryptedPayload.js";
import { nativeSha256 as sha256 } from "./native.js";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const recipientArb = fc.record({
  recipientKid: fc.integer({ min: 0, max: 0xffffffff }),
  enc: fc.uint8Array({ maxLength: 40 }),
  ct: fc.uint8Array({ maxLength: 60 }),
});

describe("payloadAad", () => {
  it("matches the field-by-field layout, with no ves_version", () => {
    fc.assert(
      fc.property(
        fc.record({
          tenantId: fc.uuid(),
          storeId: fc.uuid(),
          eventId: fc.uuid(),
          sourceAgentId: fc.uuid(),
          agentKeyId: fc.integer({ min: 0, max: 0xffffffff }),
          entityType: fc.string({ unit: "grapheme", maxLength: 20 }),
          entityId: fc.string({ maxLength: 20 }),
          eventType: fc.string({ maxLength: 20 }),
          createdAt: fc.string({ maxLength: 35 }),
          payloadPlainHash: bytes(32),
        }),
        (f) => {
          const pre = concatBytes(
            DOMAIN_PAYLOAD_AAD,
            uuidToBytes(f.tenantId),
            uuidToBytes(f.storeId),
            uuidToBytes(f.eventId),
            uuidToBytes(f.sourceAgentId),
            u32be(f.agentKeyId),
            encStr(f.entityType),
            encStr(f.entityId),
            encStr(f.eventType),
            encStr(f.createdAt),
            f.payloadPlainHash,
          );
          expect(payloadAad(sha256, f)).toEqual(sha256(pre));
        },
      ),
    );
  });

  it("names the malformed field", () => {
    const f = {
      tenantId: "00000000-0000-0000-0000-000000000001",
      storeId: "00000000-0000-0000-0000-000000000002",
      eventId: "11111111-1111-1111-1111-111111111111",
      sourceAgentId: "22222222-2222-2222-2222-222222222222",
      agentKeyId: 1,
      entityType: "t",
      entityId: "i",
      eventType: "e",
      createdAt: "2025-01-01T00:00:00Z",
      payloadPlainHash: new Uint8Array(32),
    };
    expect(() => payloadAad(sha256, { ...f, eventId: "nope" })).toThrow(/"event_id" expected a UUID/);
    expect(() => payloadAad(sha256, { ...f, payloadPlainHash: new Uint8Array(0) })).toThrow(
      new RangeError('"payload_plain_hash" expected 32 bytes, got 0'),
    );
    expect(() => payloadAad(sha256, { ...f, agentKeyId: 1.5 })).toThrow(/"agent_key_id"/);
  });
});

describe("recipientsHash", () => {
  it("hashes length-prefixed entries in array order", () => {
    fc.assert(
      fc.property(fc.array(recipientArb, { maxLength: 4 }), (rs) => {
        const pre = concatBytes(
          DOMAIN_RECIPIENTS,
          ...rs.flatMap((r) => [u32be(r.recipientKid), u32be(r.enc.length), r.enc, u32be(r.ct.length), r.ct]),
        );
        expect(recipientsHash(sha256, rs)).toEqual(sha256(pre));
      }),
    );
    expect(recipientsHash(sha256, [])).toEqual(sha256(DOMAIN_RECIPIENTS));
  });

  it("changes when entries swap or a byte moves between enc and ct", () => {
    const a = { recipientKid: 1, enc: new Uint8Array(32).fill(3), ct: new Uint8Array(48).fill(4) };
    const b = { recipientKid: 2, enc: new Uint8Array(32).fill(5), ct: new Uint8Array(48).fill(6) };
    expect(recipientsHash(sha256, [a, b])).not.toEqual(recipientsHash(sha256, [b, a]));
    const moved = { recipientKid: 1, enc: new Uint8Array(33).fill(3), ct: new Uint8Array(47).fill(4) };
    moved.enc[32] = 4;
    expect(recipientsHash(sha256, [moved])).not.toEqual(recipientsHash(sha256, [a]));
  });

  it("names the malformed entry", () => {
    const ok = { recipientKid: 1, enc: new Uint8Array(32), ct: new Uint8Array(48) };
    expect(() => recipientsHash(sha256, [ok, { ...ok, recipientKid: -1 }])).toThrow(
      new RangeError('"recipients[1].recipient_kid" expected an integer 0..4294967295, got -1'),
    );
    expect(() => recipientsHash(sha256, [{ ...ok, ct: "x" as unknown as Uint8Array }])).toThrow(
      new TypeError('"recipients[0].ct" expected a Uint8Array, got "x"'),
    );
  });
});

describe("payloadCipherHash", () => {
  it("hashes U32(1) ‖ nonce ‖ aad ‖ U32(len(ct)) ‖ ct ‖ tag ‖ recipients_hash", () => {
    fc.assert(
      fc.property(
        bytes(12),
        bytes(32),
        fc.uint8Array({ maxLength: 200 }),
        bytes(16),
        bytes(32),
        (n, aad, ct, tag, rh) => {
          const pre = concatBytes(DOMAIN_PAYLOAD_CIPHER, u32be(1), n, aad, u32be(ct.length), ct, tag, rh);
          const f = { nonce: n, payloadAad: aad, ciphertext: ct, tag, recipientsHash: rh };
          expect(payloadCipherHash(sha256, f)).toEqual(sha256(pre));
        },
      ),
    );
  });

  it("names the field of the wrong length", () => {
    const f = {
      nonce: new Uint8Array(12),
      payloadAad: new Uint8Array(32),
      ciphertext: new Uint8Array(5),
      tag: new Uint8Array(16),
      recipientsHash: new Uint8Array(32),
    };
    expect(() => payloadCipherHash(sha256, { ...f, nonce: new Uint8Array(11) })).toThrow(
      new RangeError('"nonce" expected 12 bytes, got 11'),
    );
    expect(() => payloadCipherHash(sha256, { ...f, tag: new Uint8Array(12) })).toThrow(
      /"tag" expected 16 bytes/,
    );
    expect(() => payloadCipherHash(sha256, { ...f, payloadAad: new Uint8Array(31) })).toThrow(
      /"payload_aad"/,
    );
    expect(() => payloadCipherHash(sha256, { ...f, recipientsHash: new Uint8Array(0) })).toThrow(
      /"recipients_hash"/,
    );
  });
});
