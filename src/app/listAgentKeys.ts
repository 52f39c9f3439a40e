// Use case: list a tenant's agent keys, of one agent or of all, with or without the revoked ones.
import type { AgentKey } from "../domain/agentKey.js";
import type { AgentKeyDeps } from "./ports.js";
import { uuidField } from "./uuidField.js";

export async function listAgentKeys(
  deps: AgentKeyDeps,
  tenantId: string,
  agentId: string | undefined,
  includeRevoked: boolean,
): Promise<AgentKey[]> {
  const tenant = uuidField("tenant_id", tenantId);
  const agent = agentId === undefined || agentId === "" ? undefined : uuidField("agent_id", agentId);
  const keys = await deps.store.list(tenant, agent);
  // revoked_at is the registry's time of a committed revocation, never in the future: set means revoked.
  return includeRevoked ? keys : keys.filter((k) => k.revokedAt === undefined);
}
