// Use case: rotate an agent's key (docs/protocol.md §3.1, §16.8): register a new key id with proof of possession
// and, optionally, end the old key's validity at `oldValidTo`, so that both keys are accepted in the overlap.
// The check of the old key, both writes and the audit entry happen in one transaction.
import { bytesToHex } from "../crypto/bytes.js";
import { type AgentKey, keyStatusAt } from "../domain/agentKey.js";
import { DomainError, invalidField } from "../domain/errors.js";
import { agentKeySubject, checkNewPublicKey, validityWindow } from "./agentKeyRules.js";
import type { AgentKeyDeps } from "./ports.js";
import { uuidField } from "./uuidField.js";

export interface RotateAgentKeyInput {
  readonly tenantId: string;
  readonly agentId: string;
  readonly keyId: number;
  readonly newKeyId: number;
  readonly newPublicKey: Uint8Array;
  readonly newProofOfPossession: Uint8Array;
  readonly newValidFrom: Date | undefined;
  readonly newValidTo: Date | undefined;
  readonly oldValidTo: Date | undefined;
  readonly actor: string;
}

export async function rotateAgentKey(
  deps: AgentKeyDeps,
  input: RotateAgentKeyInput,
): Promise<{ oldKey: AgentKey; newKey: AgentKey }> {
  const tenantId = uuidField("tenant_id", input.tenantId);
  const agentId = uuidField("agent_id", input.agentId);
  if (input.newKeyId === input.keyId) {
    throw invalidField("new_key_id", `a key id other than the old one (${input.keyId})`, `${input.newKeyId}`);
  }
  checkNewPublicKey(deps, input.newPublicKey, input.newProofOfPossession, {
    publicKey: "new_public_key",
    proof: "new_proof_of_possession",
  });
  const { oldValidTo } = input;
  // `now` is the registry's (PostgreSQL's) clock in the rotating transaction, the clock sequencing checks
  // validity windows against.
  return deps.store.rotate(tenantId, agentId, input.keyId, (old, now) => {
    const { validFrom, validTo } = validityWindow(now, input.newValidFrom, input.newValidTo, "new_valid_to");
    if (oldValidTo !== undefined && oldValidTo.getTime() < now.getTime()) {
      throw invalidField(
        "old_valid_to",
        `a time not in the past (now is ${now.toISOString()}; to stop the old key at once, revoke it)`,
        oldValidTo.toISOString(),
      );
    }
    if (old === undefined) {
      throw new DomainError(
        "not_found",
        `No agent key ${input.keyId} is registered for agent ${agentId} in tenant ${tenantId}`,
        { field: "key_id", actual: `${input.keyId}` },
      );
    }
    const status = keyStatusAt(old, now);
    if (status === "revoked" || status === "expired") {
      throw new DomainError(
        "failed_precondition",
        `agent key ${input.keyId} is ${status}: only a valid key can be rotated; register the new key instead`,
        { field: "key_id", expected: "an active or not yet valid key", actual: status },
      );
    }
    if (
      oldValidTo !== undefined &&
      old.validTo !== undefined &&
      oldValidTo.getTime() > old.validTo.getTime()
    ) {
      throw invalidField(
        "old_valid_to",
        `a time at or before the old key's current valid_to (${old.validTo.toISOString()}); rotation never extends a key`,
        oldValidTo.toISOString(),
      );
    }
    if (oldValidTo !== undefined && oldValidTo.getTime() < old.validFrom.getTime()) {
      throw invalidField(
        "old_valid_to",
        `a time at or after the old key's valid_from (${old.validFrom.toISOString()})`,
        oldValidTo.toISOString(),
      );
    }
    return {
      newKey: {
        tenantId,
        agentId,
        keyId: input.newKeyId,
        publicKey: input.newPublicKey,
        algorithm: "ed25519",
        validFrom,
        validTo,
        revokedAt: undefined,
        revocationReason: undefined,
        createdAt: now,
      },
      oldValidTo,
      audit: {
        tenantId,
        at: now,
        actor: input.actor,
        action: "agent_key.rotated",
        subject: agentKeySubject(agentId, input.keyId),
        details: {
          old_key_id: input.keyId,
          old_valid_to: (oldValidTo ?? old.validTo)?.toISOString() ?? null,
          new_key_id: input.newKeyId,
          new_public_key: bytesToHex(input.newPublicKey),
          new_valid_from: validFrom.toISOString(),
          new_valid_to: validTo?.toISOString() ?? null,
        },
      },
    };
  });
}
