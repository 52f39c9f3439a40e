// Use case: revoke an API key. This instance forgets it at once; the store's notification makes every other
// instance forget it too (and their caches expire within AUTH_CACHE_TTL_MS anyway).
import type { ApiKey } from "../domain/apiKey.js";
import { isApiKeyPrefix } from "../domain/apiKey.js";
import { DomainError, invalidField, showValue } from "../domain/errors.js";
import type { ApiKeyLookup, ApiKeyStore, Clock } from "./ports.js";
import { uuidField } from "./uuidField.js";

export async function revokeApiKey(
  deps: { readonly store: ApiKeyStore; readonly lookup: ApiKeyLookup; readonly clock: Clock },
  tenantId: string,
  prefix: string,
  actor: string,
): Promise<ApiKey> {
  const tenant = uuidField("tenant_id", tenantId);
  if (!isApiKeyPrefix(prefix))
    throw invalidField("prefix", '"ves_" and 12 hex characters', showValue(prefix));
  const now = deps.clock.now();
  const key = await deps.store.revoke(tenant, prefix, now, {
    tenantId: tenant,
    at: now,
    actor,
    action: "api_key.revoked",
    subject: `api_key:${prefix}`,
    details: { revoked_at: now.toISOString() },
  });
  deps.lookup.forget(prefix);
  if (key === undefined) {
    throw new DomainError("not_found", `No API key ${prefix} exists in tenant ${tenant}`, {
      field: "prefix",
      actual: prefix,
    });
  }
  return key;
}
