// PostgreSQL array literals built directly as text, for multi-row INSERT ... SELECT FROM unnest(...).
// postgres.js would escape every element with regular expressions and hex-encode every bytea through a
// copy; on the ingest path that was a large share of the event loop's time.

const NEEDS_QUOTING = /[",\\{}\s]|^null$/i;

/** `{a,b}` for values that never need quoting (UUIDs, numbers); null elements become NULL. */
export function plainArray(values: readonly (string | number | bigint | null | undefined)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ",";
    out += v === null || v === undefined ? "NULL" : String(v);
  }
  return `${out}}`;
}

/** `{"a","b \"c\""}` for arbitrary text; quotes and escapes only where needed. */
export function textArray(values: readonly (string | null | undefined)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ",";
    if (v === null || v === undefined) out += "NULL";
    else if (v !== "" && !NEEDS_QUOTING.test(v)) out += v;
    else out += `"${v.replace(/["\\]/g, "\\$&")}"`;
  }
  return `${out}}`;
}

/** `{\\x00ff,...}`: bytea elements in hex format (the backslash is escaped for the array parser). */
export function byteaArray(values: readonly (Uint8Array | null | undefined)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ",";
    out +=
      v === null || v === undefined
        ? "NULL"
        : `\\\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}`;
  }
  return `${out}}`;
}
