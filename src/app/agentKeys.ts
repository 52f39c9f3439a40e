// Use cases of the agent key registry: register (with proof of possession, docs/protocol.md §2.7), list, revoke.
// Registration and revocation are recorded in the tenant's key audit log in the same transaction.
import { bytesToHex, isUuid } from "../crypto/bytes.js";
import type { Ed25519 } from "../crypto/ed25519.js";
import { isValidEd25519PublicKey } from "../crypto/ed25519.js";
import { popChallenge } from "../crypto/popChallenge.js";
import type { Sha256 } from "../crypto/sha256.js";
import { type AgentKey, agentKeyRef } from "../domain/agentKey.js";
import { DomainError, invalidField, showValue } from "../domain/errors.js";
import type { AgentKeyStore, Clock } from "./ports.js";

export interface AgentKeyDeps {
  readonly store: AgentKeyStore;
  readonly clock: Clock;
  readonly sha256: Sha256;
  readonly ed25519: Ed25519;
}

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

export function uuidField(field: string, value: string): string {
  if (!isUuid(value)) throw invalidField(field, "a UUID (8-4-4-4-12 hex)", showValue(value));
  return value.toLowerCase();
}

export function agentKeySubject(agentId: string, keyId: number): string {
  return `agent_key:${agentKeyRef(agentId, keyId)}`;
}

/** Checks a key being registered: a valid, non-weak Ed25519 point and a proof of possession that verifies. */
export function checkNewPublicKey(
  deps: Pick<AgentKeyDeps, "sha256" | "ed25519">,
  publicKey: Uint8Array,
  proofOfPossession: Uint8Array,
  fields: { publicKey: string; proof: string } = { publicKey: "public_key", proof: "proof_of_possession" },
): void {
  if (publicKey.length !== 32) {
    throw invalidField(fields.publicKey, "32 bytes (Ed25519)", `${publicKey.length} bytes`);
  }
  if (!isValidEd25519PublicKey(publicKey)) {
    throw invalidField(
      fields.publicKey,
      "a valid Ed25519 point that is not of small order",
      "an invalid or weak key",
    );
  }
  if (proofOfPossession.length !== 64) {
    throw invalidField(
      fields.proof,
      `64 bytes: the Ed25519 signature of H("VES_POP_V1" || ${fields.publicKey})`,
      `${proofOfPossession.length} bytes`,
    );
  }
  const challenge = popChallenge(deps.sha256, publicKey);
  if (!deps.ed25519.verify(proofOfPossession, challenge, publicKey)) {
    throw new DomainError(
      "invalid_argument",
      `"${fields.proof}" does not verify: sign H("VES_POP_V1" || ${fields.publicKey}) with the key being registered`,
      { field: fields.proof },
    );
  }
}

/** A new key's validity window: valid_from defaults to now, valid_to (if any) is not before it. */
export function validityWindow(
  now: Date,
  validFrom: Date | undefined,
  validTo: Date | undefined,
  field = "valid_to",
): { validFrom: Date; validTo: Date | undefined } {
  const from = validFrom ?? now;
  if (validTo !== undefined && validTo.getTime() < from.getTime()) {
    throw invalidField(field, `a time at or after valid_from (${from.toISOString()})`, validTo.toISOString());
  }
  return { validFrom: from, validTo };
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
