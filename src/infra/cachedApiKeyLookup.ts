// API keys by prefix with a short-lived cache in front of the table. Entries (found or not) live at most
// `ttlMs` (the safety net); a revocation anywhere removes the entry on every instance at once through
// LISTEN/NOTIFY, and a (re)connection of the listener empties the cache, since notifications may have been
// missed while it was down.
import type { ApiKeyLookup, Clock } from "../app/ports.js";
import type { ApiKey } from "../domain/apiKey.js";

export interface CachedApiKeyLookup extends ApiKeyLookup {
  /** Drops every entry. */
  clear(): void;
  readonly size: number;
}

export function createCachedApiKeyLookup(
  load: (prefix: string) => Promise<ApiKey | undefined>,
  opts: { ttlMs: number; clock: Clock; maxEntries?: number },
): CachedApiKeyLookup {
  const maxEntries = opts.maxEntries ?? 10_000;
  const cache = new Map<string, { key: ApiKey | undefined; until: number }>();
  // Bumped by forget/clear so a load that started before an invalidation does not store a stale answer.
  let generation = 0;
  return {
    async byPrefix(prefix) {
      const now = opts.clock.now().getTime();
      const hit = cache.get(prefix);
      if (hit !== undefined && hit.until > now) return hit.key;
      const started = generation;
      const key = await load(prefix);
      if (opts.ttlMs > 0 && started === generation) {
        cache.delete(prefix);
        cache.set(prefix, { key, until: now + opts.ttlMs });
        while (cache.size > maxEntries) {
          const oldest = cache.keys().next().value;
          if (oldest === undefined) break;
          cache.delete(oldest);
        }
      }
      return key;
    },
    forget(prefix) {
      generation++;
      cache.delete(prefix);
    },
    clear() {
      generation++;
      cache.clear();
    },
    get size() {
      return cache.size;
    },
  };
}
