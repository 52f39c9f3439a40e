// Who is calling: the identity and limits a credential carries once authenticated (docs/protocol.md §3.2, §16.9).

export type Permission = "read" | "write" | "admin";

export const PERMISSIONS: readonly Permission[] = ["read", "write", "admin"];

export type CredentialKind = "api_key" | "jwt" | "bootstrap_admin" | "auth_disabled";

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
  readonly permissions: ReadonlySet<Permission>;
  /** Requests per second (and burst); undefined means no limit. */
  readonly rateLimit: number | undefined;
  /** When the credential stops being valid (a JWT's exp); undefined means until revoked. */
  readonly expiresAt: Date | undefined;
}

/** `admin` includes `read` and `write`; `read` and `write` are independent of each other. */
export function hasPermission(p: Principal, needed: Permission): boolean {
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
  permissions: new Set<Permission>(["admin"]),
  rateLimit: undefined,
  expiresAt: undefined,
};

/** The bootstrap admin (BOOTSTRAP_ADMIN_API_KEY): every tenant, every store, admin. */
export const BOOTSTRAP_ADMIN_PRINCIPAL: Principal = {
  ...AUTH_DISABLED_PRINCIPAL,
  kind: "bootstrap_admin",
  id: "bootstrap_admin",
};
