// Byte helpers for VES encodings: hex, U32/U64 big-endian, ENC_STR, UUID (docs/protocol.md preamble, §2).

/** 32 zero bytes: the plaintext cipher hash, the first prev_state_root, the empty Merkle root. Treat as read-only. */
export const ZERO32: Uint8Array = new Uint8Array(32);

const MAX_SHOWN = 80;
const U64_MAX = (1n << 64n) - 1n;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_CHARS = "0123456789abcdef";
const BYTE_TO_HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => `${HEX_CHARS.charAt(i >> 4)}${HEX_CHARS.charAt(i & 15)}`,
);

const encoder = new TextEncoder();

/** Shows an offending value in an error message: strings quoted and cut short, other values by type. */
function show(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value);
  }
  if (value === null) return "null";
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `${typeof value} ${String(value)}`;
}

/** Returns `value` when it is a Uint8Array (of exactly `length` bytes, when given). */
export function assertBytes(value: unknown, length: number | undefined, title: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`"${title}" expected a Uint8Array, got ${show(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`"${title}" expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

/** Lowercase hex, no prefix. */
export function bytesToHex(b: Uint8Array): string {
  assertBytes(b, undefined, "bytes");
  let out = "";
  for (let i = 0; i < b.length; i++) out += BYTE_TO_HEX[b[i] as number];
  return out;
}

function hexNibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/**
 * Parses hex with an optional `0x` prefix, either case. `expectedLength` is in bytes.
 * Throws TypeError for a non-string and RangeError for a malformed string (bad character, odd or wrong length),
 * as noble does.
 */
export function hexToBytes(hex: string, title = "value", expectedLength?: number): Uint8Array {
  if (typeof hex !== "string") throw new TypeError(`"${title}" expected a hex string, got ${show(hex)}`);
  const start = hex.startsWith("0x") || hex.startsWith("0X") ? 2 : 0;
  const digits = hex.length - start;
  if (digits % 2 !== 0) {
    throw new RangeError(`"${title}" expected an even number of hex digits, got ${digits}`);
  }
  const n = digits / 2;
  if (expectedLength !== undefined && n !== expectedLength) {
    throw new RangeError(
      `"${title}" expected ${expectedLength} bytes (${expectedLength * 2} hex digits), got ${n}`,
    );
  }
  const out = new Uint8Array(n);
  for (let i = 0, j = start; i < n; i++, j += 2) {
    const hi = hexNibble(hex.charCodeAt(j));
    const lo = hexNibble(hex.charCodeAt(j + 1));
    if (hi < 0 || lo < 0) {
      throw new RangeError(
        `"${title}" expected hex digits, got ${show(hex)} (bad character at ${hi < 0 ? j : j + 1})`,
      );
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Concatenates byte arrays into a new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (let i = 0; i < parts.length; i++) total += assertBytes(parts[i], undefined, `parts[${i}]`).length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Checks a U32 value; shared by the preimage writers so they report the field name. */
export function assertU32(n: unknown, title: string): number {
  if (typeof n !== "number")
    throw new TypeError(`"${title}" expected an integer 0..4294967295, got ${show(n)}`);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`"${title}" expected an integer 0..4294967295, got ${n}`);
  }
  return n;
}

/** Checks a U64 value given as a bigint. */
export function assertU64(n: unknown, title: string): bigint {
  if (typeof n !== "bigint") throw new TypeError(`"${title}" expected a bigint 0..2^64-1, got ${show(n)}`);
  if (n < 0n || n > U64_MAX) throw new RangeError(`"${title}" expected a bigint 0..2^64-1, got ${n}`);
  return n;
}

/** U32 big-endian. RangeError outside 0..2^32-1. */
export function u32be(n: number): Uint8Array {
  assertU32(n, "u32");
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** U64 big-endian. RangeError outside 0..2^64-1. */
export function u64be(n: bigint): Uint8Array {
  assertU64(n, "u64");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, false);
  return out;
}

/**
 * UTF-8 length of a string, counting a lone surrogate as TextEncoder does (3 bytes for U+FFFD);
 * returns -(index + 1) of the first lone surrogate instead when `strict` is set.
 */
function utf8Length(s: string, strict: boolean): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else {
        if (strict) return -(i + 1);
        n += 3;
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      if (strict) return -(i + 1);
      n += 3;
    } else n += 3;
  }
  return n;
}

/** Number of UTF-8 bytes `s` encodes to (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8ByteLength(s: string): number {
  if (typeof s !== "string") throw new TypeError(`"string" expected a string, got ${show(s)}`);
  return utf8Length(s, false);
}

function strictLength(s: string, title: string): number {
  if (typeof s !== "string") throw new TypeError(`"${title}" expected a string, got ${show(s)}`);
  const n = utf8Length(s, true);
  // A lone surrogate would be encoded as U+FFFD, so two different strings would sign alike.
  if (n < 0)
    throw new RangeError(`"${title}" expected well-formed Unicode, got a lone surrogate at index ${-n - 1}`);
  return n;
}

/** UTF-8 bytes of `s`. RangeError for a lone surrogate (it has no UTF-8 encoding). */
export function utf8(s: string): Uint8Array {
  const out = new Uint8Array(strictLength(s, "string"));
  encoder.encodeInto(s, out);
  return out;
}

/** ENC_STR(s) = U32(len(utf8(s))) ‖ utf8(s). RangeError for a lone surrogate. */
export function encStr(s: string): Uint8Array {
  const n = strictLength(s, "string");
  const out = new Uint8Array(4 + n);
  new DataView(out.buffer).setUint32(0, n, false);
  encoder.encodeInto(s, out.subarray(4));
  return out;
}

/** Byte length of ENC_STR(s). RangeError naming `title` for a lone surrogate. */
export function encStrLength(s: string, title: string): number {
  return 4 + strictLength(s, title);
}

/** Writes ENC_STR(s) into `out` at `offset` (room checked by the caller via encStrLength); returns the end offset. */
export function writeEncStr(out: Uint8Array, offset: number, s: string): number {
  const { written } = encoder.encodeInto(s, out.subarray(offset + 4));
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(offset, written, false);
  return offset + 4 + written;
}

/** True for a canonical 8-4-4-4-12 hex UUID string, either case. */
export function isUuid(s: string): boolean {
  return typeof s === "string" && s.length === 36 && UUID_RE.test(s);
}

/** Returns `uuid` when it is an 8-4-4-4-12 hex string; TypeError for a non-string, RangeError otherwise. */
export function assertUuid(uuid: unknown, title: string): string {
  if (typeof uuid === "string" && isUuid(uuid)) return uuid;
  const problem = `"${title}" expected a UUID (8-4-4-4-12 hex), got ${show(uuid)}`;
  throw typeof uuid === "string" ? new RangeError(problem) : new TypeError(problem);
}

/** The 16 UUID bytes in the order the hex is written (Rust `Uuid::as_bytes`). Accepts only 8-4-4-4-12 hex. */
export function uuidToBytes(uuid: string, title = "uuid"): Uint8Array {
  assertUuid(uuid, title);
  const out = new Uint8Array(16);
  writeUuid(out, 0, uuid);
  return out;
}

/** Writes a UUID that `assertUuid` accepted into `out` at `offset` (16 bytes). */
export function writeUuid(out: Uint8Array, offset: number, uuid: string): void {
  let j = 0;
  for (let i = 0; i < 16; i++) {
    if (j === 8 || j === 13 || j === 18 || j === 23) j++;
    out[offset + i] = (hexNibble(uuid.charCodeAt(j)) << 4) | hexNibble(uuid.charCodeAt(j + 1));
    j += 2;
  }
}

/** Lowercase 8-4-4-4-12 form of 16 bytes. */
export function bytesToUuid(b: Uint8Array): string {
  const h = bytesToHex(assertBytes(b, 16, "uuid"));
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Byte equality without an early exit on the first difference. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
