// A token bucket (rate limiting): `rate` tokens per second, holding at most `rate` (the burst).

export interface TokenBucket {
  tokens: number;
  updatedMs: number;
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/** Takes one token at `nowMs`, refilling first; when empty, says how long until one is available. */
export function takeToken(bucket: TokenBucket, rate: number, nowMs: number): TakeResult {
  const elapsed = Math.max(0, nowMs - bucket.updatedMs);
  bucket.tokens = Math.min(rate, bucket.tokens + (elapsed * rate) / 1000);
  bucket.updatedMs = nowMs;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return { ok: true };
  }
  return { ok: false, retryAfterMs: Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / rate)) };
}

export function fullBucket(rate: number, nowMs: number): TokenBucket {
  return { tokens: rate, updatedMs: nowMs };
}
