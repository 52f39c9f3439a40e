import { describe, expect, it } from "vitest";
import { headersFromNode, presentedCredential } from "./credentials.js";

const of = (h: Record<string, string>) => presentedCredential(new Headers(h));

describe("presentedCredential", () => {
  it("reads Bearer and ApiKey (scheme in any case), and x-api-key only without authorization", () => {
    expect(of({ authorization: "Bearer a.b.c" })).toEqual({ kind: "bearer", token: "a.b.c" });
    expect(of({ authorization: "bearer  a.b.c " })).toEqual({ kind: "bearer", token: "a.b.c" });
    expect(of({ authorization: "ApiKey ves_x" })).toEqual({ kind: "api_key", key: "ves_x" });
    expect(of({ "x-api-key": "ves_y" })).toEqual({ kind: "api_key", key: "ves_y" });
    expect(of({ authorization: "ApiKey ves_x", "x-api-key": "ves_y" })).toEqual({
      kind: "api_key",
      key: "ves_x",
    });
    expect(of({})).toEqual({ kind: "none" });
  });

  it("calls anything else malformed", () => {
    for (const authorization of ["Basic dXNlcjpwYXNz", "Bearer", "ves_abc", "Bearer a b", "ApiKey "]) {
      expect(of({ authorization }).kind, authorization).toBe("malformed");
    }
    expect(of({ "x-api-key": " " }).kind).toBe("malformed");
    expect(of({ authorization: `Bearer ${"x".repeat(9000)}` }).kind).toBe("malformed");
  });

  it("builds Headers from Node's incoming headers, skipping HTTP/2 pseudo-headers", () => {
    const h = headersFromNode({
      ":path": "/metrics",
      "x-api-key": "k",
      accept: ["a", "b"],
      empty: undefined,
    });
    expect(h.get("x-api-key")).toBe("k");
    expect(h.get("accept")).toBe("a, b");
    expect([...h.keys()]).not.toContain(":path");
  });
});
