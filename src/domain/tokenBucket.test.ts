import { describe, expect, it } from "vitest";
import { fullBucket, takeToken } from "./tokenBucket.js";

describe("token bucket", () => {
  it("allows a burst of `rate`, then refuses with the time until the next token", () => {
    const b = fullBucket(4, 0);
    for (let i = 0; i < 4; i++) expect(takeToken(b, 4, 0)).toEqual({ ok: true });
    expect(takeToken(b, 4, 0)).toEqual({ ok: false, retryAfterMs: 250 });
    expect(takeToken(b, 4, 100)).toEqual({ ok: false, retryAfterMs: 150 });
    expect(takeToken(b, 4, 250)).toEqual({ ok: true });
  });

  it("refills at `rate` per second up to the burst, and tolerates a clock going back", () => {
    const b = fullBucket(2, 0);
    takeToken(b, 2, 0);
    takeToken(b, 2, 0);
    expect(takeToken(b, 2, 10_000)).toEqual({ ok: true });
    expect(takeToken(b, 2, 10_000)).toEqual({ ok: true });
    expect(takeToken(b, 2, 10_000).ok).toBe(false);
    expect(takeToken(b, 2, 5_000).ok).toBe(false);
  });
});
