import { describe, expect, it } from "vitest";
import type { ApiKey } from "../domain/apiKey.js";
import { createCachedApiKeyLookup } from "./cachedApiKeyLookup.js";

const key = { prefix: "ves_000000000001" } as ApiKey;

describe("cached API-key lookup", () => {
  it("serves from the cache until the TTL, forget or clear", async () => {
    let t = 0;
    let loads = 0;
    const cache = createCachedApiKeyLookup(
      async () => {
        loads++;
        return key;
      },
      { ttlMs: 1000, clock: { now: () => new Date(t) } },
    );
    await cache.byPrefix("p");
    await cache.byPrefix("p");
    expect(loads).toBe(1);
    t = 1000;
    await cache.byPrefix("p");
    expect(loads).toBe(2);
    cache.forget("p");
    await cache.byPrefix("p");
    expect(loads).toBe(3);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("does not keep an answer loaded while the key was being forgotten", async () => {
    let release: (k: ApiKey | undefined) => void = () => {};
    const cache = createCachedApiKeyLookup(() => new Promise((r) => (release = r)), {
      ttlMs: 60_000,
      clock: { now: () => new Date(0) },
    });
    const pending = cache.byPrefix("p");
    cache.forget("p");
    release(key);
    expect(await pending).toBe(key);
    expect(cache.size).toBe(0);
  });

  it("caches nothing with a TTL of 0 and stays within its size bound", async () => {
    let loads = 0;
    const none = createCachedApiKeyLookup(
      async () => {
        loads++;
        return undefined;
      },
      { ttlMs: 0, clock: { now: () => new Date(0) } },
    );
    await none.byPrefix("p");
    await none.byPrefix("p");
    expect(loads).toBe(2);
    const small = createCachedApiKeyLookup(async () => undefined, {
      ttlMs: 1000,
      clock: { now: () => new Date(0) },
      maxEntries: 3,
    });
    for (const p of ["a", "b", "c", "d", "e"]) await small.byPrefix(p);
    expect(small.size).toBe(3);
  });
});
