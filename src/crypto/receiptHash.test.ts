// Tests for the receipt hash layout (docs/protocol.md §2.4).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, u64be, uuidToBytes } from "./bytes.js";
import { DOMAIN_RECEIPT } from "./domains.js";
import { nativeSha256 as sha256 } from "./native.js";
import { receiptHash } from "./receiptHash.js";

describe("receiptHash", () => {
  it("hashes the 102-byte preimage", () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.uuid(),
        fc.uuid(),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (tenantId, storeId, eventId, sequenceNumber, eventSigningHash) => {
          const pre = concatBytes(
            DOMAIN_RECEIPT,
            uuidToBytes(tenantId),
            uuidToBytes(storeId),
            uuidToBytes(eventId),
            u64be(sequenceNumber),
            eventSigningHash,
          );
          expect(pre).toHaveLength(102);
          expect(
            receiptHash(sha256, { tenantId, storeId, eventId, sequenceNumber, eventSigningHash }),
          ).toEqual(sha256(pre));
        },
      ),
    );
  });

  it("names the malformed field", () => {
    const f = {
      tenantId: "00000000-0000-0000-0000-000000000001",
      storeId: "00000000-0000-0000-0000-000000000002",
      eventId: "11111111-1111-1111-1111-111111111111",
      sequenceNumber: 1n,
      eventSigningHash: new Uint8Array(32),
    };
    expect(() => receiptHash(sha256, { ...f, sequenceNumber: 1 as unknown as bigint })).toThrow(
      new TypeError('"sequence_number" expected a bigint 0..2^64-1, got number 1'),
    );
    expect(() => receiptHash(sha256, { ...f, sequenceNumber: 1n << 64n })).toThrow(RangeError);
    expect(() => receiptHash(sha256, { ...f, eventSigningHash: new Uint8Array(64) })).toThrow(
      new RangeError('"event_signing_hash" expected 32 bytes, got 64'),
    );
  });
});
