// Per-credential rate limiting: a token bucket per credential, in this instance's memory (so with N instances
// a client may get up to N times its limit; the limit is a guard against runaway clients, not a quota).

import { DomainError } from "../domain/errors.js";
import type { Principal } from "../domain/principal.js";
import { fullBucket, type TokenBucket, takeToken } from "../domain/tokenBucket.js";
import type { Clock } from "./ports.js";

export interface RateLimiter {
  /** Takes one request's token; throws DomainError("resource_exhausted") with retryAfterMs when there is none. */
  take(p: Principal): void;
}

export function createRateLimiter(clock: Clock, maxCredentials = 100_000): RateLimiter {
  const buckets = new Map<string, TokenBucket>();
  return {
    take(p) {
      const rate = p.rateLimit;
      if (rate === undefined) return;
      const now = clock.now().getTime();
      let bucket = buckets.get(p.id);
      if (bucket === undefined) {
        bucket = fullBucket(rate, now);
        if (buckets.size >= maxCredentials) {
          // Least recently used out (Map iteration is insertion order; a use re-inserts).
          const oldest = buckets.keys().next().value;
          if (oldest !== undefined) buckets.delete(oldest);
        }
      } else {
        buckets.delete(p.id);
      }
      buckets.set(p.id, bucket);
      const r = takeToken(bucket, rate, now);
      if (!r.ok) {
        throw new DomainError(
          "resource_exhausted",
          `rate limit of ${p.id} exceeded: at most ${rate} requests per second; retry in ${r.retryAfterMs} ms`,
          { expected: `<= ${rate} requests per second`, actual: "more", retryAfterMs: r.retryAfterMs },
        );
      }
    },
  };
}
