// Who is calling: the identity and limits a credential carries once authenticated (docs/protocol.md §3.2, §16.9).

/** What a tenant's credential (API key, JWT) may do with that tenant's data. */
export type Permission = "read" | "write" | "admin";

export const PERMISSIONS: readonly Permission[] = ["read", "write", "admin"];

/**
 * Everything an operation may need: a tenant permission, or "metrics" (reading the instance's Prometheus metrics,
 * which span every tenant). Only the operator's scraper credential (METRICS_API_KEY) and admins of every tenant
 * have "metrics"; it is not a permission a tenant's key or token can carry.
 */
export type Scope = Permission | "metrics";

export type CredentialKind = "api_key" | "jwt" | "bootstrap_admin" | "auth_disabled" | "metrics_scraper";

export interface Principal {
  readonly kind: CredentialKind;
  /** Stable id of the credential: the audit log's actor and the rate limiter's key. Never a secret. */
  readonly id: string;
  /** The one tenant the credential is bound to; undefined means every tenant (the bootstrap admin only). */
  readonly tenantId: string | undefined;
  /** Stores the credential is limited to; undefined means every store of its tenant(s). */
  readonly storeIds: readonly string[] | undefined;
  /** The agent the credential is bound to; undefined means any agent. */
  readonly agentId: string | undefined;
  readonly permissions: ReadonlySet<Scope>;
  /** Requests per second (and burst); undefined means no limit. */
  readonly rateLimit: number | undefined;
  /** When the credential stops being valid (a JWT's exp); undefined means until revoked. */
  readonly expiresAt: Date | undefined;
}

/** `admin` includes `read`, `write` and `metrics`; the others are independent of each other. */
export function hasPermission(p: Principal, needed: Scope): boolean {
  return p.permissions.has(needed) || p.permissions.has("admin");
}

export function isPermission(s: string): s is Permission {
  return s === "read" || s === "write" || s === "admin";
}

/** The credential every request runs as when AUTH_MODE=disabled (development and test only). */
export const AUTH_DISABLED_PRINCIPAL: Principal = {
  kind: "auth_disabled",
  id: "auth_disabled",
  tenantId: undefined,
  storeIds: undefined,
  agentId: undefined,
  permissions: new Set<Scope>(["admin"]),
  rateLimit: undefined,
  expiresAt: undefined,
};

/** The bootstrap admin (BOOTSTRAP_ADMIN_API_KEY): every tenant, every store, admin. */
export const BOOTSTRAP_ADMIN_PRINCIPAL: Principal = {
  ...AUTH_DISABLED_PRINCIPAL,
  kind: "bootstrap_admin",
  id: "bootstrap_admin",
};

/**
 * The operator's metrics scraper (METRICS_API_KEY): reads GET /metrics of this instance, which spans every
 * tenant, and nothing else (not even the calls any valid credential may make).
 */
export const METRICS_SCRAPER_PRINCIPAL: Principal = {
  kind: "metrics_scraper",
  id: "metrics_scraper",
  tenantId: undefined,
  storeIds: undefined,
  agentId: undefined,
  permissions: new Set<Scope>(["metrics"]),
  rateLimit: undefined,
  expiresAt: undefined,
};
