// Use case: turn a presented credential (API key, JWT bearer token or the bootstrap admin key) into a Principal
// (docs/protocol.md §3.2, §16.9), and re-check a principal during a long stream (revoked key, expired token).
import { isUuid, utf8 } from "../crypto/bytes.js";
import type { Sha256 } from "../crypto/sha256.js";
import { apiKeyPrefixOf } from "../domain/apiKey.js";
import { DomainError } from "../domain/errors.js";
import {
  BOOTSTRAP_ADMIN_PRINCIPAL,
  isPermission,
  METRICS_SCRAPER_PRINCIPAL,
  type Permission,
  type Principal,
} from "../domain/principal.js";
import type { ApiKeyLookup, Clock, TokenVerifier } from "./ports.js";

/** What the transport found in the request's headers. */
export type PresentedCredential =
  | { readonly kind: "none" }
  | { readonly kind: "api_key"; readonly key: string }
  | { readonly kind: "bearer"; readonly token: string }
  | { readonly kind: "malformed"; readonly reason: string };

export interface AuthenticateDeps {
  readonly apiKeys: ApiKeyLookup;
  /** Undefined: JWT authentication is not configured (no JWT_SECRET), so bearer tokens are refused. */
  readonly tokens: TokenVerifier | undefined;
  /** SHA-256 of BOOTSTRAP_ADMIN_API_KEY; undefined when there is none. */
  readonly bootstrapKeyHash: Uint8Array | undefined;
  /** SHA-256 of METRICS_API_KEY (the operator's scraper credential); undefined when there is none. */
  readonly metricsKeyHash: Uint8Array | undefined;
  readonly sha256: Sha256;
  /** Compares two byte strings in time independent of where they differ. */
  readonly constantTimeEqual: (a: Uint8Array, b: Uint8Array) => boolean;
  readonly clock: Clock;
}

const HOW =
  'send "authorization: Bearer <JWT>", "authorization: ApiKey <key>" or "x-api-key: <key>" (request metadata or HTTP header)';

function unauthenticated(message: string, actual?: string): DomainError {
  return new DomainError("unauthenticated", message, { field: "authorization", actual });
}

const MAX_STORES_CLAIM = 1000;

function listClaim(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return [];
  const items = typeof value === "string" ? value.split(",") : Array.isArray(value) ? value : undefined;
  if (items === undefined || !items.every((v): v is string => typeof v === "string")) {
    throw unauthenticated(`token claim "${name}" expected a comma-separated string or an array of strings`);
  }
  return items.map((v) => v.trim()).filter((v) => v !== "");
}

/** The principal a verified token's claims describe (§3.2: sub = tenant, stores, agent, perms). */
export function principalFromClaims(claims: Readonly<Record<string, unknown>>): Principal {
  const { sub, jti, exp } = claims;
  if (typeof sub !== "string" || !isUuid(sub)) {
    throw unauthenticated(
      'token claim "sub" expected the tenant UUID',
      typeof sub === "string" ? sub : typeof sub,
    );
  }
  if (typeof jti !== "string" || jti === "" || jti.length > 256) {
    throw unauthenticated('token claim "jti" expected a token id of 1..256 characters');
  }
  if (typeof exp !== "number") throw unauthenticated('token claim "exp" expected a NumericDate');
  const stores = listClaim(claims.stores, "stores");
  if (stores.length > MAX_STORES_CLAIM)
    throw unauthenticated(`token claim "stores" has more than ${MAX_STORES_CLAIM}`);
  for (const s of stores) {
    if (!isUuid(s)) throw unauthenticated('token claim "stores" expected store UUIDs', s.slice(0, 80));
  }
  const { agent } = claims;
  if (agent !== undefined && (typeof agent !== "string" || !isUuid(agent))) {
    throw unauthenticated('token claim "agent" expected an agent UUID');
  }
  const permissions = new Set<Permission>();
  for (const p of listClaim(claims.perms, "perms")) {
    if (!isPermission(p))
      throw unauthenticated('token claim "perms" expected read, write or admin', p.slice(0, 80));
    permissions.add(p);
  }
  return {
    kind: "jwt",
    id: `jwt:${sub.toLowerCase()}/${jti}`,
    tenantId: sub.toLowerCase(),
    storeIds: stores.length === 0 ? undefined : stores.map((s) => s.toLowerCase()),
    agentId: agent === undefined ? undefined : agent.toLowerCase(),
    permissions,
    rateLimit: undefined,
    expiresAt: new Date(exp * 1000),
  };
}

async function apiKeyPrincipal(deps: AuthenticateDeps, key: string): Promise<Principal> {
  const prefix = apiKeyPrefixOf(key);
  if (prefix === undefined) {
    throw unauthenticated(
      `malformed API key: expected "ves_<12 hex>_<43 base64url>" (${key.length} characters given)`,
    );
  }
  const record = await deps.apiKeys.byPrefix(prefix);
  // Hash and compare even when the prefix is unknown, so timing does not tell the two apart.
  const presented = deps.sha256(utf8(key));
  const matches = deps.constantTimeEqual(presented, record?.keyHash ?? new Uint8Array(32));
  const now = deps.clock.now().getTime();
  if (record === undefined || !matches) throw unauthenticated(`API key ${prefix} is not valid`, prefix);
  if (record.revokedAt !== undefined && record.revokedAt.getTime() <= now) {
    throw unauthenticated(`API key ${prefix} was revoked`, prefix);
  }
  return {
    kind: "api_key",
    id: `api_key:${prefix}`,
    tenantId: record.tenantId,
    storeIds: record.storeIds.length === 0 ? undefined : record.storeIds,
    agentId: record.agentId,
    permissions: new Set(record.permissions),
    rateLimit: record.rateLimit,
    expiresAt: undefined,
  };
}

export async function authenticate(
  deps: AuthenticateDeps,
  presented: PresentedCredential,
): Promise<Principal> {
  switch (presented.kind) {
    case "none":
      throw unauthenticated(`no credential: ${HOW}`);
    case "malformed":
      throw unauthenticated(`malformed credential: ${presented.reason}; ${HOW}`);
    case "bearer": {
      if (deps.tokens === undefined) {
        throw unauthenticated(
          "bearer tokens are not accepted: this sequencer has no JWT_SECRET; use an API key",
        );
      }
      return principalFromClaims(await deps.tokens.verify(presented.token));
    }
    case "api_key": {
      if (deps.bootstrapKeyHash !== undefined || deps.metricsKeyHash !== undefined) {
        const hash = deps.sha256(utf8(presented.key));
        if (deps.bootstrapKeyHash !== undefined && deps.constantTimeEqual(hash, deps.bootstrapKeyHash)) {
          return BOOTSTRAP_ADMIN_PRINCIPAL;
        }
        if (deps.metricsKeyHash !== undefined && deps.constantTimeEqual(hash, deps.metricsKeyHash)) {
          return METRICS_SCRAPER_PRINCIPAL;
        }
      }
      return apiKeyPrincipal(deps, presented.key);
    }
  }
}

/**
 * Throws DomainError("unauthenticated") when a principal authenticated earlier is no longer valid: its API key
 * was revoked since, or its token expired. Long streams call it for every message.
 */
export async function recheckPrincipal(deps: AuthenticateDeps, p: Principal): Promise<void> {
  const now = deps.clock.now().getTime();
  if (p.expiresAt !== undefined && now >= p.expiresAt.getTime()) {
    throw unauthenticated(`the token expired at ${p.expiresAt.toISOString()}`);
  }
  if (p.kind === "api_key") {
    const prefix = p.id.slice("api_key:".length);
    const record = await deps.apiKeys.byPrefix(prefix);
    if (record === undefined || (record.revokedAt !== undefined && record.revokedAt.getTime() <= now)) {
      throw unauthenticated(`API key ${prefix} was revoked`, prefix);
    }
  }
}
