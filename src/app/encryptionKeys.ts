// Use cases of agents' X25519 encryption (recipient) keys: register, list, revoke. Registration and revocation
// are recorded in the tenant's key audit log in the same transaction, like signing keys (agentKeys.ts).
import { bytesToHex } from "../crypto/bytes.js";
import { type EncryptionKey, encryptionKeySubject } from "../domain/encryptionKey.js";
import { DomainError, invalidField } from "../domain/errors.js";
import { uuidField, validityWindow } from "./agentKeys.js";
import type { EncryptionKeyStore } from "./ports.js";

export interface EncryptionKeyDeps {
  readonly encryptionKeys: EncryptionKeyStore;
}

export interface RegisterEncryptionKeyInput {
  readonly tenantId: string;
  readonly agentId: string;
  readonly recipientKid: number;
  readonly publicKey: Uint8Array;
  readonly validFrom: Date | undefined;
  readonly validTo: Date | undefined;
  /** The credential making the change (Principal.id), for the audit log. */
  readonly actor: string;
}

function checkX25519PublicKey(publicKey: Uint8Array): void {
  if (publicKey.length !== 32) {
    throw invalidField("public_key", "32 bytes (X25519)", `${publicKey.length} bytes`);
  }
  if (publicKey.every((b) => b === 0)) {
    throw invalidField("public_key", "an X25519 public key", "32 zero bytes");
  }
}

export async function registerEncryptionKey(
  deps: EncryptionKeyDeps,
  input: RegisterEncryptionKeyInput,
): Promise<EncryptionKey> {
  const tenantId = uuidField("tenant_id", input.tenantId);
  const agentId = uuidField("agent_id", input.agentId);
  checkX25519PublicKey(input.publicKey);
  return deps.encryptionKeys.insert((now) => {
    const { validFrom, validTo } = validityWindow(now, input.validFrom, input.validTo);
    const key: EncryptionKey = {
      tenantId,
      agentId,
      recipientKid: input.recipientKid,
      publicKey: input.publicKey,
      algorithm: "x25519",
      validFrom,
      validTo,
      revokedAt: undefined,
      revocationReason: undefined,
      createdAt: now,
    };
    return {
      key,
      audit: {
        tenantId,
        at: now,
        actor: input.actor,
        action: "encryption_key.registered",
        subject: encryptionKeySubject(agentId, input.recipientKid),
        details: {
          public_key: bytesToHex(input.publicKey),
          valid_from: validFrom.toISOString(),
          valid_to: validTo?.toISOString() ?? null,
        },
      },
    };
  });
}

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
