// Tests for the database-domain asserts: text PostgreSQL can hold, bigint range, time range.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  assertDbBigint,
  assertDbText,
  assertDbTime,
  DB_BIGINT_MAX,
  DB_TIME_MAX,
  DB_TIME_MIN,
  dbTextProblem,
  MAX_DB_TEXT_BYTES,
} from "./dbDomain.js";
import { DomainError } from "./errors.js";

describe("dbTextProblem", () => {
  it("finds U+0000 and lone surrogates, with their index", () => {
    expect(dbTextProblem("ab\u0000")).toBe("U+0000 at index 2");
    expect(dbTextProblem("\ud800x")).toBe("a lone surrogate U+D800 at index 0");
    expect(dbTextProblem("x\udfff")).toBe("a lone surrogate U+DFFF at index 1");
    expect(dbTextProblem("\udfff\ud800")).toBe("a lone surrogate U+DFFF at index 0");
  });

  it("accepts every well-formed string without U+0000", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (s) => {
        expect(dbTextProblem(s.replaceAll("\u0000", ""))).toBeUndefined();
      }),
    );
    expect(dbTextProblem("😀 é ∑")).toBeUndefined();
  });
});

describe("assertDbText", () => {
  it("returns the value or throws invalid_argument naming the field", () => {
    expect(assertDbText("ok", "name")).toBe("ok");
    const err = (() => {
      try {
        assertDbText("a\u0000", "name");
      } catch (e) {
        return e;
      }
    })() as DomainError;
    expect(err).toBeInstanceOf(DomainError);
    expect(err.reason).toBe("invalid_argument");
    expect(err.field).toBe("name");
    expect(err.message).toBe('"name" expected text without U+0000 or lone surrogates, got U+0000 at index 1');
  });

  it("bounds the UTF-8 length", () => {
    expect(assertDbText("é".repeat(MAX_DB_TEXT_BYTES / 2), "f")).toHaveLength(MAX_DB_TEXT_BYTES / 2);
    expect(() => assertDbText("é".repeat(MAX_DB_TEXT_BYTES / 2 + 1), "f")).toThrow(
      `"f" expected at most ${MAX_DB_TEXT_BYTES} UTF-8 bytes, got ${MAX_DB_TEXT_BYTES + 2} bytes`,
    );
    expect(() => assertDbText("x", "f", 0)).toThrow(/at most 0 UTF-8 bytes, got 1 bytes/);
  });
});

describe("assertDbBigint", () => {
  it("accepts -2^63..2^63-1 and names anything else", () => {
    expect(assertDbBigint(DB_BIGINT_MAX, "seq")).toBe(DB_BIGINT_MAX);
    expect(assertDbBigint(-DB_BIGINT_MAX - 1n, "seq")).toBe(-DB_BIGINT_MAX - 1n);
    expect(() => assertDbBigint(DB_BIGINT_MAX + 1n, "seq")).toThrow(
      '"seq" expected at most 9223372036854775807 (2^63 - 1, a PostgreSQL bigint), got 9223372036854775808',
    );
    expect(() => assertDbBigint(2n ** 64n - 1n, "seq")).toThrow(/got 18446744073709551615/);
  });
});

describe("assertDbTime", () => {
  it("accepts the years 0001..9999 and refuses invalid or outside times", () => {
    expect(assertDbTime(DB_TIME_MIN, "t")).toBe(DB_TIME_MIN);
    expect(assertDbTime(DB_TIME_MAX, "t")).toBe(DB_TIME_MAX);
    expect(() => assertDbTime(new Date(DB_TIME_MAX.getTime() + 1), "t")).toThrow(/got \+010000-01-01/);
    expect(() => assertDbTime(new Date(DB_TIME_MIN.getTime() - 1), "t")).toThrow(
      /got 0000-12-31T23:59:59.999Z/,
    );
    expect(() => assertDbTime(new Date(Number.NaN), "t")).toThrow(/got an invalid time/);
  });
});
