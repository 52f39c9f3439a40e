// Tests for the VES byte encodings: hex, U32/U64, ENC_STR, UUID (docs/protocol.md preamble).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  assertBytes,
  bytesToHex,
  bytesToUuid,
  concatBytes,
  encStr,
  equalBytes,
  hexToBytes,
  isUuid,
  u32be,
  u64be,
  utf8,
  utf8ByteLength,
  uuidToBytes,
  ZERO32,
} from "./bytes.js";

/** Any sequence of UTF-16 code units, lone surrogates included. */
const utf16 = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
  .map((units) => String.fromCharCode(...units));

describe("hex", () => {
  it("writes lowercase and reads either case with an optional 0x", () => {
    expect(bytesToHex(new Uint8Array([0, 1, 0xab, 0xff]))).toBe("0001abff");
    expect(bytesToHex(new Uint8Array())).toBe("");
    expect(hexToBytes("0001ABff")).toEqual(new Uint8Array([0, 1, 0xab, 0xff]));
    expect(hexToBytes("0x0001abff")).toEqual(new Uint8Array([0, 1, 0xab, 0xff]));
    expect(hexToBytes("0XAB")).toEqual(new Uint8Array([0xab]));
    expect(hexToBytes("")).toEqual(new Uint8Array());
  });

  it("names the field and says what was wrong", () => {
    expect(() => hexToBytes("abc", "agent_signature")).toThrow(
      new RangeError('"agent_signature" expected an even number of hex digits, got 3'),
    );
    expect(() => hexToBytes("zz", "key")).toThrow(
      new RangeError('"key" expected hex digits, got "zz" (bad character at 0)'),
    );
    expect(() => hexToBytes("0xa-", "key")).toThrow(RangeError);
    expect(() => hexToBytes("00".repeat(63), "agent_signature", 64)).toThrow(
      new RangeError('"agent_signature" expected 64 bytes (128 hex digits), got 63'),
    );
    expect(() => hexToBytes(12 as unknown as string, "key")).toThrow(
      new TypeError('"key" expected a hex string, got number 12'),
    );
    expect(() => hexToBytes("0x", "key", 1)).toThrow(RangeError);
  });

  it("round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (b, upper) => {
        const h = bytesToHex(b);
        expect(h).toMatch(/^[0-9a-f]*$/);
        expect(hexToBytes(upper ? `0x${h.toUpperCase()}` : h, "b", b.length)).toEqual(b);
      }),
    );
  });
});

describe("U32 and U64", () => {
  it("encodes big-endian at the bounds", () => {
    expect(bytesToHex(u32be(0))).toBe("00000000");
    expect(bytesToHex(u32be(256))).toBe("00000100");
    expect(bytesToHex(u32be(0xffffffff))).toBe("ffffffff");
    expect(bytesToHex(u64be(0n))).toBe("0000000000000000");
    expect(bytesToHex(u64be(4294967296n))).toBe("0000000100000000");
    expect(bytesToHex(u64be((1n << 64n) - 1n))).toBe("ffffffffffffffff");
  });

  it("refuses values outside the range", () => {
    expect(() => u32be(-1)).toThrow(new RangeError('"u32" expected an integer 0..4294967295, got -1'));
    expect(() => u32be(2 ** 32)).toThrow(RangeError);
    expect(() => u32be(1.5)).toThrow(RangeError);
    expect(() => u32be(Number.NaN)).toThrow(RangeError);
    expect(() => u32be("1" as unknown as number)).toThrow(TypeError);
    expect(() => u64be(-1n)).toThrow(new RangeError('"u64" expected a bigint 0..2^64-1, got -1'));
    expect(() => u64be(1n << 64n)).toThrow(RangeError);
    expect(() => u64be(1 as unknown as bigint)).toThrow(TypeError);
  });

  it("round-trips every u64", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => {
        const b = u64be(n);
        expect(b).toHaveLength(8);
        expect(new DataView(b.buffer).getBigUint64(0, false)).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        expect(new DataView(u32be(n).buffer).getUint32(0, false)).toBe(n);
      }),
    );
  });
});

describe("UTF-8 and ENC_STR", () => {
  it("prefixes the UTF-8 byte length, not the UTF-16 length", () => {
    expect(bytesToHex(encStr("hello"))).toBe("0000000568656c6c6f");
    expect(bytesToHex(encStr(""))).toBe("00000000");
    expect(bytesToHex(encStr("é"))).toBe("00000002c3a9");
    expect(bytesToHex(encStr("😀"))).toBe("00000004f09f9880");
    expect(utf8ByteLength("a€😀")).toBe(1 + 3 + 4);
  });

  it("counts bytes exactly as TextEncoder writes them", () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(utf16, (s) => {
        expect(utf8ByteLength(s)).toBe(encoder.encode(s).length);
      }),
    );
  });

  it("refuses a lone surrogate, which has no UTF-8 form", () => {
    expect(() => utf8("a\ud800")).toThrow(
      new RangeError('"string" expected well-formed Unicode, got a lone surrogate at index 1'),
    );
    expect(() => encStr("\udc00x")).toThrow(RangeError);
    expect(() => encStr("\ud83d")).toThrow(RangeError);
    expect(utf8("\ud83d\ude00")).toEqual(new TextEncoder().encode("😀"));
  });

  it("encodes well-formed strings as TextEncoder does", () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (s) => {
        expect(utf8(s)).toEqual(encoder.encode(s));
        expect(encStr(s)).toEqual(concatBytes(u32be(encoder.encode(s).length), encoder.encode(s)));
      }),
    );
  });
});

describe("UUID", () => {
  it("maps the hex digits in written order", () => {
    expect(bytesToHex(uuidToBytes("a1b2c3d4-e5f6-7890-abcd-ef1234567890"))).toBe(
      "a1b2c3d4e5f67890abcdef1234567890",
    );
    expect(bytesToHex(uuidToBytes("A1B2C3D4-E5F6-7890-ABCD-EF1234567890"))).toBe(
      "a1b2c3d4e5f67890abcdef1234567890",
    );
    expect(bytesToUuid(hexToBytes("a1b2c3d4e5f67890abcdef1234567890"))).toBe(
      "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    );
  });

  it("accepts the canonical 8-4-4-4-12 form only", () => {
    for (const bad of [
      "xyz",
      "",
      "a1b2c3d4e5f67890abcdef1234567890",
      "{a1b2c3d4-e5f6-7890-abcd-ef1234567890}",
      "urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890",
      "a1b2c3d4-e5f6-7890-abcd-ef123456789",
      "a1b2c3d4-e5f6-7890-abcd-ef12345678901",
      "a1b2c3d4-e5f6-7890-abcd_ef1234567890",
      "g1b2c3d4-e5f6-7890-abcd-ef1234567890",
      " a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    ]) {
      expect(isUuid(bad), bad).toBe(false);
      expect(() => uuidToBytes(bad), bad).toThrow(RangeError);
    }
    expect(() => uuidToBytes("xyz", "tenant_id")).toThrow(
      new RangeError('"tenant_id" expected a UUID (8-4-4-4-12 hex), got "xyz"'),
    );
    expect(() => uuidToBytes(7 as unknown as string, "tenant_id")).toThrow(
      new TypeError('"tenant_id" expected a UUID (8-4-4-4-12 hex), got number 7'),
    );
    expect(() => bytesToUuid(new Uint8Array(15))).toThrow(new RangeError('"uuid" expected 16 bytes, got 15'));
  });

  it("round-trips strings and bytes", () => {
    fc.assert(
      fc.property(fc.uuid(), (u) => {
        expect(isUuid(u)).toBe(true);
        expect(bytesToUuid(uuidToBytes(u))).toBe(u.toLowerCase());
        expect(uuidToBytes(u.toUpperCase())).toEqual(uuidToBytes(u));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(uuidToBytes(bytesToUuid(b))).toEqual(b);
      }),
    );
  });
});

describe("small helpers", () => {
  it("concatenates, compares and asserts", () => {
    expect(concatBytes(new Uint8Array([1]), new Uint8Array(), new Uint8Array([2, 3]))).toEqual(
      new Uint8Array([1, 2, 3]),
    );
    expect(concatBytes()).toEqual(new Uint8Array());
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(equalBytes(new Uint8Array([1]), new Uint8Array([1, 0]))).toBe(false);
    expect(ZERO32).toEqual(new Uint8Array(32));
    const b = new Uint8Array(32);
    expect(assertBytes(b, 32, "hash")).toBe(b);
    expect(() => assertBytes(new Uint8Array(31), 32, "payload_plain_hash")).toThrow(
      new RangeError('"payload_plain_hash" expected 32 bytes, got 31'),
    );
    expect(() => assertBytes("00", 1, "nonce")).toThrow(
      new TypeError('"nonce" expected a Uint8Array, got "00"'),
    );
    expect(() => assertBytes([1], undefined, "nonce")).toThrow(
      new TypeError('"nonce" expected a Uint8Array, got an array'),
    );
  });
});
