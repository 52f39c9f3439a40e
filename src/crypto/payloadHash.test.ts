// Tests for payload_plain_hash, plain and salted (docs/protocol.md §2.2).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonicalJson.js";
import { DOMAIN_PAYLOAD_PLAIN } from "./domains.js";
import { nativeSha256 as sha256 } from "./native.js";
import { payloadPlainHash, payloadPlainHashFromCanonical, payloadPlainHashSalted } from "./payloadHash.js";

describe("payloadPlainHash", () => {
  it("hashes the domain, the salt if any, and the JCS bytes", () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ stringUnit: "grapheme" }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (x, salt) => {
          const body = utf8(canonicalJson(x));
          expect(payloadPlainHash(sha256, x)).toEqual(sha256(concatBytes(DOMAIN_PAYLOAD_PLAIN, body)));
          expect(payloadPlainHashFromCanonical(sha256, canonicalJson(x))).toEqual(
            payloadPlainHash(sha256, x),
          );
          expect(payloadPlainHashSalted(sha256, salt, x)).toEqual(
            sha256(concatBytes(DOMAIN_PAYLOAD_PLAIN, salt, body)),
          );
        },
      ),
    );
  });

  it("refuses a salt that is not 16 bytes and payloads with no canonical form", () => {
    expect(() => payloadPlainHashSalted(sha256, new Uint8Array(15), {})).toThrow(
      new RangeError('"salt" expected 16 bytes, got 15'),
    );
    expect(() => payloadPlainHash(sha256, { a: Number.NaN })).toThrow(RangeError);
    expect(() => payloadPlainHashFromCanonical(sha256, "\ud800")).toThrow(RangeError);
  });
});
