// The database's domain for request values (PostgreSQL 15 text, bigint and timestamptz): checked at the edge,
// before any query, so a value PostgreSQL cannot hold is the client's INVALID_ARGUMENT, never an INTERNAL.
import { utf8ByteLength } from "../crypto/bytes.js";
import { invalidField } from "./errors.js";

/** The largest PostgreSQL bigint, 2^63 - 1: every sequence number, version and seq is stored as one. */
export const DB_BIGINT_MAX = 2n ** 63n - 1n;

/** The longest request text with no limit of its own (names, reasons, ids, tokens). */
export const MAX_DB_TEXT_BYTES = 4096;

/**
 * The times a request may carry: RFC 3339's years 0001..9999. PostgreSQL's timestamptz reaches further
 * (4713 BC..294276 AD), but postgres.js sends a Date as its ISO string, and outside these years that string
 * ("+010000-…", "-000001-…") is not one PostgreSQL parses.
 */
export const DB_TIME_MIN = new Date("0001-01-01T00:00:00.000Z");
export const DB_TIME_MAX = new Date("9999-12-31T23:59:59.999Z");
export const DB_TIME_RANGE = `a time from ${DB_TIME_MIN.toISOString()} to ${DB_TIME_MAX.toISOString()}`;

// U+0000 (PostgreSQL text cannot hold it) or a lone UTF-16 surrogate (not Unicode text; it would be stored
// as U+FFFD, not as sent). With the u flag a well-formed pair is one code point and does not match \p{Cs}.
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what must be found.
const NOT_DB_TEXT = /[\u0000\p{Cs}]/u;

export const DB_TEXT_EXPECTED = "text without U+0000 or lone surrogates";

/** What makes `value` unfit for a PostgreSQL text column ("U+0000 at index 3"), or undefined when it fits. */
export function dbTextProblem(value: string): string | undefined {
  const m = NOT_DB_TEXT.exec(value);
  if (m === null) return undefined;
  const what =
    m[0] === "\u0000" ? "U+0000" : `a lone surrogate U+${m[0].charCodeAt(0).toString(16).toUpperCase()}`;
  return `${what} at index ${m.index}`;
}

/** Returns `value` when PostgreSQL text can hold it and it has at most `maxBytes` UTF-8 bytes. */
export function assertDbText(value: string, field: string, maxBytes = MAX_DB_TEXT_BYTES): string {
  const problem = dbTextProblem(value);
  if (problem !== undefined) throw invalidField(field, DB_TEXT_EXPECTED, problem);
  // A UTF-16 unit takes at most 3 UTF-8 bytes: a short string needs no count.
  if (value.length * 3 > maxBytes) {
    const n = utf8ByteLength(value);
    if (n > maxBytes) throw invalidField(field, `at most ${maxBytes} UTF-8 bytes`, `${n} bytes`);
  }
  return value;
}

/** Returns `value` when it fits a PostgreSQL bigint (at most 2^63 - 1; 64-bit fields are never below -2^63). */
export function assertDbBigint(value: bigint, field: string): bigint {
  if (value > DB_BIGINT_MAX || value < -DB_BIGINT_MAX - 1n) {
    throw invalidField(field, `at most ${DB_BIGINT_MAX} (2^63 - 1, a PostgreSQL bigint)`, `${value}`);
  }
  return value;
}

/** Returns `date` when it is a valid time within DB_TIME_MIN..DB_TIME_MAX. */
export function assertDbTime(date: Date, field: string): Date {
  const t = date.getTime();
  if (!(t >= DB_TIME_MIN.getTime() && t <= DB_TIME_MAX.getTime())) {
    throw invalidField(field, DB_TIME_RANGE, Number.isNaN(t) ? "an invalid time" : date.toISOString());
  }
  return date;
}
