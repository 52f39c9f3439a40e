// Use case: register an agent's signing key, with proof of possession (docs/protocol.md §2.7). The registration
// is recorded in the tenant's key audit log in the same transaction.
import { bytesToHex } from "../crypto/bytes.js";
import type { AgentKey } from "../domain/agentKey.js";
import { agentKeySubject, checkNewPublicKey, validityWindow } from "./agentKeyRules.js";
import type { AgentKeyDeps } from "./ports.js";
import { uuidField } from "./uuidField.js";

export interface RegisterAgentKeyInput {
  readonly tenantId: string;
  readonly agentId: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly proofOfPossession: Uint8Array;
  readonly validFrom: Date | undefined;
  readonly validTo: Date | undefined;
  /** The credential making the change (Principal.id), for the audit log. */
  readonly actor: string;
}

export async function registerAgentKey(deps: AgentKeyDeps, input: RegisterAgentKeyInput): Promise<AgentKey> {
  const tenantId = uuidField("tenant_id", input.tenantId);
  const agentId = uuidField("agent_id", input.agentId);
  checkNewPublicKey(deps, input.publicKey, input.proofOfPossession);
  // The registry's clock, not this instance's: a default valid_from must not lie in the future (or the past)
  // of the clock that sequencing checks it against.
  return deps.store.insert((now) => {
    const { validFrom, validTo } = validityWindow(now, input.validFrom, input.validTo);
    const key: AgentKey = {
      tenantId,
      agentId,
      keyId: input.keyId,
      publicKey: input.publicKey,
      algorithm: "ed25519",
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
        action: "agent_key.registered",
        subject: agentKeySubject(agentId, input.keyId),
        details: {
          public_key: bytesToHex(input.publicKey),
          valid_from: validFrom.toISOString(),
          valid_to: validTo?.toISOString() ?? null,
        },
      },
    };
  });
}
