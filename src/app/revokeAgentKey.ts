// Use case: revoke an agent's signing key, at the registry's time. The revocation is recorded in the tenant's key
// audit log in the same transaction.
import type { AgentKey } from "../domain/agentKey.js";
import { DomainError, invalidField } from "../domain/errors.js";
import { agentKeySubject } from "./agentKeyRules.js";
import type { AgentKeyDeps } from "./ports.js";
import { uuidField } from "./uuidField.js";

export async function revokeAgentKey(
  deps: AgentKeyDeps,
  tenantId: string,
  agentId: string,
  keyId: number,
  reason: string,
  actor: string,
): Promise<AgentKey> {
  const tenant = uuidField("tenant_id", tenantId);
  const agent = uuidField("agent_id", agentId);
  if (reason.length > 512) throw invalidField("reason", "at most 512 characters", `${reason.length}`);
  // revoked_at is taken by the registry (PostgreSQL) once the key row is locked, never from this instance's clock.
  const key = await deps.store.revoke(tenant, agent, keyId, reason, (revokedAt) => ({
    tenantId: tenant,
    at: revokedAt,
    actor,
    action: "agent_key.revoked",
    subject: agentKeySubject(agent, keyId),
    details: { reason, revoked_at: revokedAt.toISOString() },
  }));
  if (key === undefined) {
    throw new DomainError(
      "not_found",
      `No agent key ${keyId} is registered for agent ${agent} in tenant ${tenant}`,
      {
        field: "key_id",
        actual: `${keyId}`,
      },
    );
  }
  return key;
}
