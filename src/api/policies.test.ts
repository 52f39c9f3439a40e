// Fail closed: every method of every service the server registers has an access policy, and a method without
// one is refused at start-up and, were it served, denied to every caller.
import { createConnectRouter } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { AUTH_DISABLED_PRINCIPAL } from "../domain/principal.js";
import { SERVICES } from "../main.js";
import { createAuthGate } from "./authGate.js";
import { methodKey, methodsWithoutPolicy, POLICIES, POLICY_TABLE, requirePolicies } from "./policies.js";

describe("access policies", () => {
  it("cover every method of every service registered in main.ts", () => {
    const methods = SERVICES.flatMap((s) => s.methods);
    expect(methods.length).toBeGreaterThanOrEqual(12);
    expect(methodsWithoutPolicy(methods)).toEqual([]);
  });

  it("have one entry per key, and none for a method that does not exist", () => {
    const keys = POLICIES.map((p) => p.key);
    expect(new Set(keys).size).toBe(keys.length);
    const known = new Set(SERVICES.flatMap((s) => s.methods.map(methodKey)));
    expect(keys.filter((k) => k.startsWith("/") && !known.has(k))).toEqual([]);
    expect(keys.filter((k) => !k.startsWith("/"))).toEqual([
      "GET /healthz",
      "GET /readyz",
      "GET /metrics",
      "GET /.well-known/ves-sequencer-keys.json",
    ]);
  });

  it("make the server refuse to start when a registered RPC has no policy", () => {
    const table = new Map([...POLICY_TABLE].filter(([k]) => !k.endsWith("/GetHead")));
    const routes = requirePolicies((router) => router.service(SequencerService, {}), table);
    expect(() => routes(createConnectRouter())).toThrow(
      "no access policy for /ves.sequencer.v1.SequencerService/GetHead: add one line per RPC to src/api/policies.ts",
    );
    expect(() =>
      requirePolicies((router) => router.service(SequencerService, {}))(createConnectRouter()),
    ).not.toThrow();
  });

  it("deny a method without a policy to every caller, even with authentication disabled", async () => {
    const gate = createAuthGate({
      mode: "disabled",
      authn: {} as never,
      limiter: { take: () => {} },
    });
    await expect(gate.admit("/x.Y/Z", undefined, { kind: "none" }, {}, false)).rejects.toMatchObject({
      reason: "permission_denied",
      message: "/x.Y/Z has no access policy, so it is denied to every caller (fail closed)",
    });
    const head = POLICY_TABLE.get(methodKey(SequencerService.method.getHead));
    await expect(
      gate.admit("h", head, { kind: "none" }, { tenantId: "t", storeId: "s" }, false),
    ).resolves.toBe(AUTH_DISABLED_PRINCIPAL);
  });
});
