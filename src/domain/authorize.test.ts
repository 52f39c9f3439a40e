import { describe, expect, it } from "vitest";
import { authorize, EVERY, type ResourceRef } from "./authorize.js";
import { DomainError } from "./errors.js";
import {
  BOOTSTRAP_ADMIN_PRINCIPAL,
  METRICS_SCRAPER_PRINCIPAL,
  type Principal,
  type Scope,
} from "./principal.js";

const T = "11111111-1111-4111-8111-111111111111";
const S = "22222222-2222-4222-8222-222222222222";
const A = "33333333-3333-4333-8333-333333333333";
const OTHER = "44444444-4444-4444-8444-444444444444";

function principal(p: Partial<Omit<Principal, "permissions">> & { perms?: Scope[] } = {}): Principal {
  return {
    kind: "api_key",
    id: "api_key:ves_0123456789ab",
    tenantId: T,
    storeIds: undefined,
    agentId: undefined,
    rateLimit: undefined,
    expiresAt: undefined,
    ...p,
    permissions: new Set(p.perms ?? ["read", "write", "admin"]),
  };
}

const tenant = (id: string): ResourceRef => ({ kind: "tenant", field: "tenant_id", id });
const store = (id: string): ResourceRef => ({ kind: "store", field: "store_id", id });
const agent = (id: string): ResourceRef => ({ kind: "agent", field: "agent_id", id });

function denial(f: () => void): DomainError | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
}

describe("authorize", () => {
  it("needs the permission; admin includes read and write, read and write are separate", () => {
    expect(denial(() => authorize(principal({ perms: ["admin"] }), "write", []))).toBeUndefined();
    expect(denial(() => authorize(principal({ perms: ["read"] }), "write", []))?.reason).toBe(
      "permission_denied",
    );
    expect(denial(() => authorize(principal({ perms: ["write"] }), "read", []))?.reason).toBe(
      "permission_denied",
    );
    expect(denial(() => authorize(principal({ perms: ["write"] }), "admin", []))?.message).toMatch(
      /lacks the "admin" permission this operation needs \(it has: write\)/,
    );
    expect(denial(() => authorize(principal({ perms: [] }), "authenticated", []))).toBeUndefined();
  });

  it("bounds tenants, stores and agents, comparing UUIDs case-insensitively", () => {
    const p = principal({ storeIds: [S], agentId: A });
    expect(
      denial(() => authorize(p, "write", [tenant(T.toUpperCase()), store(S), agent(A)])),
    ).toBeUndefined();
    const wrongTenant = denial(() => authorize(p, "write", [tenant(OTHER)]));
    expect(wrongTenant).toMatchObject({
      reason: "permission_denied",
      field: "tenant_id",
      expected: T,
      actual: OTHER,
    });
    expect(denial(() => authorize(p, "write", [store(OTHER)]))?.field).toBe("store_id");
    expect(denial(() => authorize(p, "write", [agent(OTHER)]))?.field).toBe("agent_id");
  });

  it("lets only unbounded credentials span every store, agent or tenant", () => {
    expect(
      denial(() => authorize(principal(), "admin", [tenant(T), store(EVERY), agent(EVERY)])),
    ).toBeUndefined();
    expect(denial(() => authorize(principal({ storeIds: [S] }), "admin", [store(EVERY)]))?.message).toMatch(
      /spans every store/,
    );
    expect(denial(() => authorize(principal({ agentId: A }), "admin", [agent(EVERY)]))?.reason).toBe(
      "permission_denied",
    );
    expect(denial(() => authorize(principal(), "admin", [tenant(EVERY)]))?.reason).toBe("permission_denied");
    expect(
      denial(() => authorize(BOOTSTRAP_ADMIN_PRINCIPAL, "admin", [tenant(EVERY), tenant(OTHER)])),
    ).toBeUndefined();
  });

  it("does not treat the nil UUID (or any tenant) as every tenant", () => {
    const nil = principal({ tenantId: "00000000-0000-0000-0000-000000000000" });
    expect(denial(() => authorize(nil, "read", [tenant(T)]))?.reason).toBe("permission_denied");
  });

  it("gives the metrics scraper GET /metrics (every tenant) and nothing else; admins of every tenant too", () => {
    const m = METRICS_SCRAPER_PRINCIPAL;
    expect(denial(() => authorize(m, "metrics", [tenant(EVERY)]))).toBeUndefined();
    for (const need of ["read", "write", "admin"] as const) {
      expect(denial(() => authorize(m, need, [tenant(T)]))?.reason).toBe("permission_denied");
    }
    expect(denial(() => authorize(m, "authenticated", []))?.message).toMatch(/may only read GET \/metrics/);
    expect(denial(() => authorize(BOOTSTRAP_ADMIN_PRINCIPAL, "metrics", [tenant(EVERY)]))).toBeUndefined();
    // A tenant's admin has the permission but not every tenant.
    expect(denial(() => authorize(principal(), "metrics", [tenant(EVERY)]))?.reason).toBe(
      "permission_denied",
    );
  });
});
