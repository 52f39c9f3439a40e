// Use case: list a tenant's API keys (metadata only: the store never had the secrets).
import type { ApiKey } from "../domain/apiKey.js";
import type { ApiKeyStore, Clock } from "./ports.js";
import { uuidField } from "./uuidField.js";

export async function listApiKeys(
  deps: { readonly store: ApiKeyStore; readonly clock: Clock },
  tenantId: string,
  includeRevoked: boolean,
): Promise<ApiKey[]> {
  const keys = await deps.store.list(uuidField("tenant_id", tenantId));
  const now = deps.clock.now().getTime();
  return includeRevoked ? keys : keys.filter((k) => k.revokedAt === undefined || k.revokedAt.getTime() > now);
}
