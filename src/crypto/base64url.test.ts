// Tests for base64url (RFC 4648 §5) as VES-ENC-1 uses it (docs/protocol.md §5).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base64urlToBytes, bytesToBase64url } from "./base64url.js";

describe("base64url", () => {
  it("agrees with Node's encoder and round-trips", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const s = bytesToBase64url(b);
        expect(s).toBe(Buffer.from(b).toString("base64url"));
        expect(base64urlToBytes(s, "x", { strict: true })).toEqual(b);
        const padded = s + "=".repeat((4 - (s.length % 4)) % 4);
        expect(base64urlToBytes(padded)).toEqual(b);
      }),
    );
  });

  it("refuses malformed input, naming the field", () => {
    expect(() => base64urlToBytes("AA==", "nonce_b64u", { strict: true })).toThrow(
      new RangeError('"nonce_b64u" expected unpadded base64url, got padding'),
    );
    expect(() => base64urlToBytes("AA=", "x")).toThrow(RangeError);
    expect(() => base64urlToBytes("A", "x")).toThrow(
      new RangeError('"x" expected base64url, got a length of 1 characters'),
    );
    expect(() => base64urlToBytes("+w", "x")).toThrow(
      new RangeError('"x" expected base64url, got a bad character at 0'),
    );
    expect(() => base64urlToBytes("_w/", "x")).toThrow(RangeError);
    expect(() => base64urlToBytes("AA AA", "x")).toThrow(RangeError);
    expect(() => base64urlToBytes("AB", "x")).toThrow(
      new RangeError('"x" expected canonical base64url, got non-zero trailing bits'),
    );
    expect(() => base64urlToBytes(1 as unknown as string, "x")).toThrow(TypeError);
    expect(base64urlToBytes("")).toEqual(new Uint8Array());
  });
});
