// Base64url (RFC 4648 §5), unpadded, for VES-ENC-1 fields (docs/protocol.md §1.1, §5).

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export interface Base64urlOptions {
  /** Refuse `=` padding (VES_STRICT_FORMAT_VALIDATION): only the canonical unpadded form is accepted. */
  readonly strict?: boolean | undefined;
}

/** Unpadded base64url of `b`. */
export function bytesToBase64url(b: Uint8Array): string {
  if (!(b instanceof Uint8Array)) throw new TypeError(`"bytes" expected a Uint8Array, got ${typeof b}`);
  let out = "";
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = ((b[i] as number) << 16) | ((b[i + 1] as number) << 8) | (b[i + 2] as number);
    out +=
      ALPHABET.charAt(n >> 18) +
      ALPHABET.charAt((n >> 12) & 63) +
      ALPHABET.charAt((n >> 6) & 63) +
      ALPHABET.charAt(n & 63);
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = (b[i] as number) << 16;
    out += ALPHABET.charAt(n >> 18) + ALPHABET.charAt((n >> 12) & 63);
  } else if (rest === 2) {
    const n = ((b[i] as number) << 16) | ((b[i + 1] as number) << 8);
    out += ALPHABET.charAt(n >> 18) + ALPHABET.charAt((n >> 12) & 63) + ALPHABET.charAt((n >> 6) & 63);
  }
  return out;
}

/**
 * Decodes base64url. Accepts `=` padding to a multiple of 4 unless `strict`; refuses the standard alphabet's
 * `+` and `/`, whitespace, a length of 1 mod 4 and non-zero trailing bits (so each byte string has exactly
 * one accepted spelling besides the padded one). TypeError for a non-string, RangeError otherwise.
 */
export function base64urlToBytes(s: string, title = "value", options: Base64urlOptions = {}): Uint8Array {
  if (typeof s !== "string") throw new TypeError(`"${title}" expected a base64url string, got ${typeof s}`);
  let end = s.length;
  if (s.endsWith("=")) {
    if (options.strict === true) throw new RangeError(`"${title}" expected unpadded base64url, got padding`);
    if (s.length % 4 !== 0) throw new RangeError(`"${title}" expected padding to a multiple of 4 characters`);
    end = s.endsWith("==") ? end - 2 : end - 1;
  }
  if (end % 4 === 1) throw new RangeError(`"${title}" expected base64url, got a length of ${end} characters`);
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? (DECODE[c] as number) : -1;
    if (v < 0) throw new RangeError(`"${title}" expected base64url, got a bad character at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) {
    throw new RangeError(`"${title}" expected canonical base64url, got non-zero trailing bits`);
  }
  return out;
}
