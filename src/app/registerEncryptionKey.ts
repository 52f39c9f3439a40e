// Use case: register an agent's X25519 encryption (recipient) key. The registration is recorded in the tenant's
// key audit log in the same transaction, like a signing key's (registerAgentKey.ts).
import { bytesToHex } from "../crypto/bytes.js";
import { type EncryptionKey, encryptionKeySubject } from "../domain/encryptionKey.js";
import { invalidField } from "../domain/errors.js";
import { validityWindow } from "./agentKeyRules.js";
import type { EncryptionKeyDeps } from "./ports.js";
import { uuidField } from "./uuidField.js";

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
