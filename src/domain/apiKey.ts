// API keys (docs/protocol.md §3.2, §16.9): "ves_<12 hex>_<43 base64url>". The first part (the prefix) is public
// and names the key; the server stores only SHA-256 of the whole key.
import type { Permission } from "./principal.js";

export const API_KEY_PREFIX_BYTES = 6;
export const API_KEY_SECRET_BYTES = 32;

const API_KEY = /^(ves_[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const PREFIX = /^ves_[0-9a-f]{12}$/;

export interface ApiKey {
  readonly prefix: string;
  readonly tenantId: string;
  readonly keyHash: Uint8Array;
  readonly name: string;
  readonly permissions: readonly Permission[];
  /** Empty: every store of the tenant. */
  readonly storeIds: readonly string[];
  readonly agentId: string | undefined;
  /** Requests per second (and burst); undefined: no limit. */
  readonly rateLimit: number | undefined;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly revokedAt: Date | undefined;
}

/** The prefix of a well-formed key, or undefined. */
export function apiKeyPrefixOf(key: string): string | undefined {
  return API_KEY.exec(key)?.[1];
}

export function isApiKeyPrefix(s: string): boolean {
  return PREFIX.test(s);
}

function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds a key from fresh random bytes: 6 for the prefix, 32 for the secret. */
export function formatApiKey(
  prefixBytes: Uint8Array,
  secretBytes: Uint8Array,
): { prefix: string; key: string } {
  if (prefixBytes.length !== API_KEY_PREFIX_BYTES || secretBytes.length !== API_KEY_SECRET_BYTES) {
    throw new RangeError(
      `API key expected ${API_KEY_PREFIX_BYTES} prefix and ${API_KEY_SECRET_BYTES} secret bytes, got ${prefixBytes.length} and ${secretBytes.length}`,
    );
  }
  const prefix = `ves_${hex(prefixBytes)}`;
  return { prefix, key: `${prefix}_${base64url(secretBytes)}` };
}
