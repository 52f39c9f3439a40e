import { describe, expect, it } from "vitest";
import { utf8 } from "../crypto/bytes.js";
import { constantTimeEqual, nativeSha256 } from "../crypto/native.js";
import type { ApiKey } from "../domain/apiKey.js";
import { formatApiKey } from "../domain/apiKey.js";
import { DomainError } from "../domain/errors.js";
import {
  type AuthenticateDeps,
  authenticate,
  principalFromClaims,
  recheckPrincipal,
} from "./authenticate.js";
import { createRateLimiter } from "./rateLimiter.js";

const T = "11111111-1111-4111-8111-111111111111";
const S = "22222222-2222-4222-8222-222222222222";
const A = "33333333-3333-4333-8333-333333333333";

function setup(now = new Date("2026-01-01T00:00:00Z")) {
  const { prefix, key } = formatApiKey(new Uint8Array(6).fill(1), new Uint8Array(32).fill(2));
  const record: { value: ApiKey } = {
    value: {
      prefix,
      tenantId: T,
      keyHash: nativeSha256(utf8(key)),
      name: "",
      permissions: ["write"],
      storeIds: [S],
      agentId: A,
      rateLimit: 5,
      createdAt: now,
      createdBy: "bootstrap_admin",
      revokedAt: undefined,
    },
  };
  const clock = { now: () => now };
  const deps: AuthenticateDeps = {
    apiKeys: { byPrefix: async (p) => (p === prefix ? record.value : undefined), forget: () => {} },
    tokens: { verify: async (t) => JSON.parse(t) },
    bootstrapKeyHash: nativeSha256(utf8("the-bootstrap-admin-key-of-this-test")),
    metricsKeyHash: nativeSha256(utf8("the-metrics-scraper-key-of-this-test")),
    sha256: nativeSha256,
    constantTimeEqual,
    clock,
  };
  return { deps, key, prefix, record, clock };
}

async function reason(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (e instanceof DomainError ? `${e.reason}: ${e.message}` : `thrown: ${String(e)}`),
  );
}

describe("authenticate", () => {
  it("maps an API key to its tenant, stores, agent, permissions and rate limit", async () => {
    const { deps, key, prefix } = setup();
    const p = await authenticate(deps, { kind: "api_key", key });
    expect(p).toMatchObject({
      kind: "api_key",
      id: `api_key:${prefix}`,
      tenantId: T,
      storeIds: [S],
      agentId: A,
    });
    expect([...p.permissions]).toEqual(["write"]);
    expect(p.rateLimit).toBe(5);
  });

  it("refuses unknown, wrong-secret, revoked and malformed keys, and missing credentials", async () => {
    const { deps, key, record, prefix } = setup();
    const wrongSecret = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
    expect(await reason(authenticate(deps, { kind: "api_key", key: wrongSecret }))).toBe(
      `unauthenticated: API key ${prefix} is not valid`,
    );
    const unknown = formatApiKey(new Uint8Array(6).fill(9), new Uint8Array(32)).key;
    expect(await reason(authenticate(deps, { kind: "api_key", key: unknown }))).toMatch(/is not valid/);
    expect(await reason(authenticate(deps, { kind: "api_key", key: "nope" }))).toMatch(/malformed API key/);
    expect(await reason(authenticate(deps, { kind: "none" }))).toMatch(
      /^unauthenticated: no credential: send/,
    );
    expect(await reason(authenticate(deps, { kind: "malformed", reason: "x" }))).toMatch(
      /malformed credential: x/,
    );
    record.value = { ...record.value, revokedAt: new Date("2025-12-31T23:59:59Z") };
    expect(await reason(authenticate(deps, { kind: "api_key", key }))).toBe(
      `unauthenticated: API key ${prefix} was revoked`,
    );
  });

  it("knows the bootstrap admin key, and refuses bearer tokens when no JWT secret is configured", async () => {
    const { deps } = setup();
    const p = await authenticate(deps, { kind: "api_key", key: "the-bootstrap-admin-key-of-this-test" });
    expect(p).toMatchObject({ kind: "bootstrap_admin", tenantId: undefined, storeIds: undefined });
    expect(
      await reason(
        authenticate(
          { ...deps, bootstrapKeyHash: undefined },
          { kind: "api_key", key: "the-bootstrap-admin-key-of-this-test" },
        ),
      ),
    ).toMatch(/malformed API key/);
    expect(
      await reason(authenticate({ ...deps, tokens: undefined }, { kind: "bearer", token: "{}" })),
    ).toMatch(/no JWT_SECRET/);
  });

  it("knows the metrics scraper key (METRICS_API_KEY): the metrics scope only, for no tenant in particular", async () => {
    const { deps } = setup();
    const p = await authenticate(deps, { kind: "api_key", key: "the-metrics-scraper-key-of-this-test" });
    expect(p).toMatchObject({ kind: "metrics_scraper", tenantId: undefined });
    expect([...p.permissions]).toEqual(["metrics"]);
    expect(
      await reason(
        authenticate(
          { ...deps, metricsKeyHash: undefined },
          { kind: "api_key", key: "the-metrics-scraper-key-of-this-test" },
        ),
      ),
    ).toMatch(/malformed API key/);
  });

  it("re-checks a principal: a key revoked since, a token expired since", async () => {
    const { deps, key, record, clock } = setup();
    const p = await authenticate(deps, { kind: "api_key", key });
    await expect(recheckPrincipal(deps, p)).resolves.toBeUndefined();
    record.value = { ...record.value, revokedAt: clock.now() };
    expect(await reason(recheckPrincipal(deps, p))).toMatch(/was revoked/);
    const jwt = principalFromClaims({ sub: T, jti: "j", exp: clock.now().getTime() / 1000 });
    expect(await reason(recheckPrincipal(deps, jwt))).toMatch(
      /the token expired at 2026-01-01T00:00:00.000Z/,
    );
  });
});

describe("principalFromClaims (§3.2)", () => {
  const base = { sub: T.toUpperCase(), jti: "t1", exp: 2_000_000_000 };
  it("reads tenant, stores, agent and permissions, as comma-separated strings or arrays", () => {
    const p = principalFromClaims({ ...base, stores: `${S}, ${S}`, agent: A, perms: "read,admin" });
    expect(p).toMatchObject({ kind: "jwt", id: `jwt:${T}/t1`, tenantId: T, storeIds: [S, S], agentId: A });
    expect([...p.permissions]).toEqual(["read", "admin"]);
    expect(p.expiresAt?.toISOString()).toBe("2033-05-18T03:33:20.000Z");
    const q = principalFromClaims({ ...base, stores: [], perms: ["write"] });
    expect(q.storeIds).toBeUndefined();
    expect([...principalFromClaims(base).permissions]).toEqual([]);
  });

  it("refuses a token whose claims are not what §3.2 says", () => {
    const bad: Record<string, unknown>[] = [
      { ...base, sub: "tenant" },
      { ...base, jti: "" },
      { ...base, stores: `${S},nope` },
      { ...base, agent: "nope" },
      { ...base, perms: "read,root" },
      { ...base, perms: 7 },
    ];
    for (const claims of bad)
      expect(() => principalFromClaims(claims), JSON.stringify(claims)).toThrow(DomainError);
  });
});

describe("rate limiter", () => {
  it("limits each credential on its own and says when to retry", () => {
    let t = 0;
    const limiter = createRateLimiter({ now: () => new Date(t) }, 2);
    const p = (id: string) =>
      ({ ...principalFromClaims({ sub: T, jti: id, exp: 1 }), rateLimit: 1 }) as Parameters<
        typeof limiter.take
      >[0];
    limiter.take(p("a"));
    expect(() => limiter.take(p("a"))).toThrow(/retry in 1000 ms/);
    limiter.take(p("b"));
    t = 1000;
    limiter.take(p("a"));
    limiter.take({ ...p("c"), rateLimit: undefined });
  });
});
