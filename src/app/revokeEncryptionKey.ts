// Use case: revoke an agent's encryption key, at the registry's time. The revocation is recorded in the tenant's
// key audit log in the same transaction.
import { type EncryptionKey, encryptionKeySubject } from "../domain/encryptionKey.js";
import { DomainError, invalidField } from "../domain/errors.js";
import type { EncryptionKeyDeps } from "./ports.js";
import { uuidField } from "./uuidField.js";

export async function revokeEncryptionKey(
  deps: EncryptionKeyDeps,
  tenantId: string,
  agentId: string,
  recipientKid: number,
  reason: string,
  actor: string,
): Promise<EncryptionKey> {
  const tenant = uuidField("tenant_id", tenantId);
  const agent = uuidField("agent_id", agentId);
  if (reason.length > 512) throw invalidField("reason", "at most 512 characters", `${reason.length}`);
  const key = await deps.encryptionKeys.revoke(tenant, agent, recipientKid, reason, (revokedAt) => ({
    tenantId: tenant,
    at: revokedAt,
    actor,
    action: "encryption_key.revoked",
    subject: encryptionKeySubject(agent, recipientKid),
    details: { reason, revoked_at: revokedAt.toISOString() },
  }));
  if (key === undefined) {
    throw new DomainError(
      "not_found",
      `No encryption key with recipient kid ${recipientKid} is registered for agent ${agent} in tenant ${tenant}`,
      { field: "recipient_kid", actual: `${recipientKid}` },
    );
  }
  return key;
}
