// When commitments are sealed: count or age, whichever first; backlogs in full-size chunks.
import { describe, expect, it } from "vitest";
import { sealDecision } from "./sealPolicy.js";

const policy = { maxEvents: 4, maxAgeMs: 500 };
const t0 = new Date("2025-01-01T00:00:00Z");
const at = (ms: number): Date => new Date(t0.getTime() + ms);

describe("sealDecision", () => {
  it("is idle with nothing waiting", () => {
    expect(sealDecision({ head: 0n, sealedEnd: 0n, firstUnsealedAt: undefined }, t0, policy)).toEqual({
      kind: "idle",
    });
    expect(sealDecision({ head: 9n, sealedEnd: 9n, firstUnsealedAt: undefined }, t0, policy).kind).toBe(
      "idle",
    );
  });

  it("waits for the age threshold below the count threshold, then seals everything waiting", () => {
    const s = { head: 3n, sealedEnd: 0n, firstUnsealedAt: t0 };
    expect(sealDecision(s, at(499), policy)).toEqual({ kind: "wait", dueAt: t0.getTime() + 500 });
    expect(sealDecision(s, at(500), policy)).toEqual({ kind: "seal", start: 1n, end: 3n });
  });

  it("seals at the count threshold at once, at most maxEvents per commitment", () => {
    expect(sealDecision({ head: 14n, sealedEnd: 10n, firstUnsealedAt: t0 }, t0, policy)).toEqual({
      kind: "seal",
      start: 11n,
      end: 14n,
    });
    expect(sealDecision({ head: 1000n, sealedEnd: 10n, firstUnsealedAt: at(0) }, t0, policy)).toEqual({
      kind: "seal",
      start: 11n,
      end: 14n,
    });
  });

  it("seals rather than waits forever when the oldest event's time is unknown", () => {
    expect(sealDecision({ head: 2n, sealedEnd: 0n, firstUnsealedAt: undefined }, t0, policy)).toEqual({
      kind: "seal",
      start: 1n,
      end: 2n,
    });
  });
});
