// Tests for RFC 8785 canonical JSON and strict payload parsing (docs/protocol.md §0.2, §2.2).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8 } from "./bytes.js";
import { canonicalJson, MAX_JSON_DEPTH, parseJsonPayload } from "./canonicalJson.js";

/** An independent JCS for ordinary values: UTF-16-sorted keys, JSON.stringify for everything else. */
function referenceJcs(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(referenceJcs).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceJcs(record[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The same JSON value with every object's keys inserted in reverse, then rotated, order. */
function reorder(value: unknown, rotate: number): unknown {
  if (Array.isArray(value)) return value.map((v) => reorder(v, rotate));
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).reverse();
    const r = keys.length === 0 ? 0 : rotate % keys.length;
    const out: Record<string, unknown> = {};
    for (const k of [...keys.slice(r), ...keys.slice(0, r)]) {
      // defineProperty, so a "__proto__" key stays an own property
      Object.defineProperty(out, k, {
        value: reorder((value as Record<string, unknown>)[k], rotate),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

const json = fc.jsonValue({ stringUnit: "grapheme", maxDepth: 4 });

describe("canonicalJson", () => {
  it("sorts keys by UTF-16 code units and writes numbers in ES6 form", () => {
    expect(canonicalJson({ z: 1, a: 2, ä: 3, A: 4 })).toBe('{"A":4,"a":2,"z":1,"ä":3}');
    // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FFFF (code-point order would put it after).
    expect(canonicalJson({ "\uffff": 1, "😀": 2 })).toBe('{"😀":2,"\uffff":1}');
    expect(canonicalJson(JSON.parse("[1.0,-0.0,1e21,1e-7,0.000001,100,1.5e300]"))).toBe(
      "[1,0,1e+21,1e-7,0.000001,100,1.5e+300]",
    );
    expect(canonicalJson(0.1 + 0.2)).toBe("0.30000000000000004");
    expect(canonicalJson(JSON.parse("9007199254740993"))).toBe("9007199254740992");
    expect(canonicalJson({ b: [true, false, null], a: { d: "x", c: "" } })).toBe(
      '{"a":{"c":"","d":"x"},"b":[true,false,null]}',
    );
  });

  it("escapes control characters and leaves other non-ASCII raw", () => {
    expect(canonicalJson('\u0001\u001f\n\t\b\f\r"\\/\u007f')).toBe(
      '"\\u0001\\u001f\\n\\t\\b\\f\\r\\"\\\\/\u007f"',
    );
    expect(canonicalJson("é€😀\u2028")).toBe('"é€😀\u2028"');
  });

  it("refuses lone surrogates in strings and keys, naming where", () => {
    expect(() => canonicalJson("\ud800")).toThrow(
      new RangeError("canonical JSON: lone UTF-16 surrogate in a string at the top level"),
    );
    expect(() => canonicalJson({ a: [1, { b: "x\udfffy" }] })).toThrow(
      new RangeError("canonical JSON: lone UTF-16 surrogate in a string at /a/1/b"),
    );
    expect(() => canonicalJson({ ok: 1, "k\ud83d": 1 })).toThrow(
      new RangeError("canonical JSON: lone UTF-16 surrogate in a key at /k\ud83d"),
    );
    // A paired surrogate is fine, and so is the six-character text \ud800 (an escaped backslash).
    expect(canonicalJson({ s: "\ud83d\ude00" })).toBe('{"s":"😀"}');
    expect(canonicalJson({ s: "\\ud800" })).toBe('{"s":"\\\\ud800"}');
  });

  it("refuses NaN and infinities as RangeError, other non-JSON values as TypeError", () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(
      new RangeError("canonical JSON: NaN at the top level is not a JSON number"),
    );
    expect(() => canonicalJson({ a: [0, Number.POSITIVE_INFINITY] })).toThrow(
      new RangeError("canonical JSON: Infinity at /a/1 is not a JSON number"),
    );
    expect(() => canonicalJson({ "x/y": Number.NEGATIVE_INFINITY })).toThrow(
      new RangeError("canonical JSON: -Infinity at /x~1y is not a JSON number"),
    );
    expect(() => canonicalJson({ n: 1n })).toThrow(
      new TypeError("canonical JSON: a bigint at /n has no JSON form"),
    );
    expect(() => canonicalJson({ f: () => 1 })).toThrow(
      new TypeError("canonical JSON: a function at /f has no JSON form"),
    );
    expect(() => canonicalJson([() => 1])).toThrow(
      new TypeError("canonical JSON: a function at /0 has no JSON form"),
    );
    expect(() => canonicalJson(() => 1)).toThrow(
      new TypeError("canonical JSON: a function at the top level has no JSON form"),
    );
    expect(() => canonicalJson(undefined)).toThrow(
      new TypeError("canonical JSON: undefined at the top level has no JSON form"),
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(new TypeError("canonical JSON: cyclic structure at /self"));
  });

  it("follows JSON.stringify for undefined members and toJSON", () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson([undefined])).toBe("[null]");
    expect(canonicalJson({ d: new Date(0) })).toBe('{"d":"1970-01-01T00:00:00.000Z"}');
  });

  it("agrees with an independent implementation", () => {
    fc.assert(
      fc.property(json, (x) => {
        expect(canonicalJson(x)).toBe(referenceJcs(x));
      }),
    );
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(json, (x) => {
        const once = canonicalJson(x);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      }),
    );
  });

  it("does not depend on key insertion order", () => {
    fc.assert(
      fc.property(json, fc.nat(), (x, rotate) => {
        expect(canonicalJson(reorder(x, rotate))).toBe(canonicalJson(x));
      }),
    );
  });
});

describe("parseJsonPayload", () => {
  it("parses UTF-8 JSON text", () => {
    expect(parseJsonPayload(utf8('{"a":[1,"é"]}'))).toEqual({ a: [1, "é"] });
    expect(parseJsonPayload(utf8(' "\\ud83d\\ude00" '))).toBe("😀");
  });

  it("refuses invalid UTF-8, naming the field", () => {
    expect(() => parseJsonPayload(new Uint8Array([0x22, 0xff, 0x22]))).toThrow(
      new TypeError('"payload" expected UTF-8 JSON text, got invalid UTF-8'),
    );
    // A UTF-8-encoded surrogate (CESU-8) is invalid UTF-8 too.
    expect(() =>
      parseJsonPayload(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), "events[3].payload"),
    ).toThrow(new TypeError('"events[3].payload" expected UTF-8 JSON text, got invalid UTF-8'));
  });

  it("refuses text that is not one JSON value, without quoting it", () => {
    expect(() => parseJsonPayload(new Uint8Array())).toThrow(
      new SyntaxError('"payload" expected JSON text, got no JSON value'),
    );
    expect(() => parseJsonPayload(utf8('{"secret":'))).toThrow(
      new SyntaxError('"payload" expected JSON text, got invalid JSON'),
    );
    expect(() => parseJsonPayload(utf8("{} {}"))).toThrow(SyntaxError);
    expect(() => parseJsonPayload(utf8("NaN"))).toThrow(SyntaxError);
    // serde_json does not skip a byte-order mark, so neither do we.
    expect(() => parseJsonPayload(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))).toThrow(SyntaxError);
  });

  it("refuses an escaped lone surrogate as serde_json does", () => {
    expect(() => parseJsonPayload(utf8('{"a":"\\uD800"}'))).toThrow(
      new SyntaxError('"payload" expected JSON text, got lone UTF-16 surrogate in a string at /a'),
    );
    expect(() => parseJsonPayload(utf8('{"\\udc00":1}'), "p")).toThrow(SyntaxError);
  });

  it("round-trips canonical JSON", () => {
    fc.assert(
      fc.property(json, (x) => {
        const text = canonicalJson(x);
        expect(canonicalJson(parseJsonPayload(utf8(text)))).toBe(text);
      }),
    );
  });
});

describe("parseJsonPayload nesting limit", () => {
  const nested = (n: number): Uint8Array => new TextEncoder().encode(`${"[".repeat(n)}${"]".repeat(n)}`);

  it("accepts 127 levels and refuses 128, as serde_json's recursion limit does", () => {
    expect(MAX_JSON_DEPTH).toBe(127);
    expect(parseJsonPayload(nested(127))).toBeInstanceOf(Array);
    expect(() => parseJsonPayload(nested(128))).toThrow(
      '"payload" expected JSON nested at most 127 levels deep, got 128',
    );
    const objects = (n: number): Uint8Array =>
      new TextEncoder().encode(`${'{"a":'.repeat(n - 1)}{}${"}".repeat(n - 1)}`);
    expect(parseJsonPayload(objects(127))).toBeInstanceOf(Object);
    expect(() => parseJsonPayload(objects(128))).toThrow(/got 128/);
  });

  it("refuses deeper nesting with the depth in the message, without recursing", () => {
    expect(() => parseJsonPayload(nested(200_000))).toThrow(/got 200000/);
  });

  it("does not count brackets inside strings", () => {
    const text = new TextEncoder().encode(JSON.stringify({ s: `${"[".repeat(500)}\\"{` }));
    expect(parseJsonPayload(text)).toEqual({ s: `${"[".repeat(500)}\\"{` });
  });
});
