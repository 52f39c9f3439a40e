// Use case: list a tenant's encryption keys, of one agent or of all, with or without the revoked ones.
import type { EncryptionKey } from "../domain/encryptionKey.js";
import type { EncryptionKeyDeps } from "./ports.js";
import { uuidField } from "./uuidField.js";

export async function listEncryptionKeys(
  deps: EncryptionKeyDeps,
  tenantId: string,
  agentId: string | undefined,
  includeRevoked: boolean,
): Promise<EncryptionKey[]> {
  const tenant = uuidField("tenant_id", tenantId);
  const agent = agentId === undefined || agentId === "" ? undefined : uuidField("agent_id", agentId);
  const keys = await deps.encryptionKeys.list(tenant, agent);
  return includeRevoked ? keys : keys.filter((k) => k.revokedAt === undefined);
}
