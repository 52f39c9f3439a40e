// Use cases of the agent key registry: register (with proof of possession, ves-protocol.md §2.7), list, revoke.
import { isUuid } from "../crypto/bytes.js";
import type { Ed25519 } from "../crypto/ed25519.js";
import { isValidEd25519PublicKey } from "../crypto/ed25519.js";
import { popChallenge } from "../crypto/popChallenge.js";
import type { Sha256 } from "../crypto/sha256.js";
import type { AgentKey } from "../domain/agentKey.js";
import { DomainError, invalidField, showValue } from "../domain/errors.js";
import type { AgentKeyStore, Clock } from "./ports.js";

export interface AgentKeyDeps {
  readonly store: AgentKeyStore;
  readonly clock: Clock;
  readonly sha256: Sha256;
  readonly ed25519: Ed25519;
  /** Called after a revocation commits, so caches everywhere can forget the key. */
  readonly onRevoked?: (tenantId: string, agentId: string, keyId: number) => Promise<void>;
}

export interface RegisterAgentKeyInput {
  readonly tenantId: string;
  readonly agentId: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly proofOfPossession: Uint8Array;
  readonly validFrom: Date | undefined;
  readonly validTo: Date | undefined;
}

function uuidField(field: string, value: string): string {
  if (!isUuid(value)) throw invalidField(field, "a UUID (8-4-4-4-12 hex)", showValue(value));
  return value.toLowerCase();
}

export async function registerAgentKey(deps: AgentKeyDeps, input: RegisterAgentKeyInput): Promise<AgentKey> {
  const tenantId = uuidField("tenant_id", input.tenantId);
  const agentId = uuidField("agent_id", input.agentId);
  if (input.publicKey.length !== 32) {
    throw invalidField("public_key", "32 bytes (Ed25519)", `${input.publicKey.length} bytes`);
  }
  if (!isValidEd25519PublicKey(input.publicKey)) {
    throw invalidField(
      "public_key",
      "a valid Ed25519 point that is not of small order",
      "an invalid or weak key",
    );
  }
  if (input.proofOfPossession.length !== 64) {
    throw invalidField(
      "proof_of_possession",
      '64 bytes: the Ed25519 signature of H("VES_POP_V1" || public_key)',
      `${input.proofOfPossession.length} bytes`,
    );
  }
  const challenge = popChallenge(deps.sha256, input.publicKey);
  if (!deps.ed25519.verify(input.proofOfPossession, challenge, input.publicKey)) {
    throw new DomainError(
      "invalid_argument",
      '"proof_of_possession" does not verify: sign H("VES_POP_V1" || public_key) with the key being registered',
      { field: "proof_of_possession" },
    );
  }
  const now = deps.clock.now();
  const validFrom = input.validFrom ?? now;
  if (input.validTo !== undefined && input.validTo.getTime() < validFrom.getTime()) {
    throw invalidField(
      "valid_to",
      `a time at or after valid_from (${validFrom.toISOString()})`,
      input.validTo.toISOString(),
    );
  }
  return deps.store.insert({
    tenantId,
    agentId,
    keyId: input.keyId,
    publicKey: input.publicKey,
    algorithm: "ed25519",
    validFrom,
    validTo: input.validTo,
    revokedAt: undefined,
    revocationReason: undefined,
    createdAt: now,
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
  const now = deps.clock.now().getTime();
  return includeRevoked ? keys : keys.filter((k) => k.revokedAt === undefined || k.revokedAt.getTime() > now);
}

export async function revokeAgentKey(
  deps: AgentKeyDeps,
  tenantId: string,
  agentId: string,
  keyId: number,
  reason: string,
): Promise<AgentKey> {
  const tenant = uuidField("tenant_id", tenantId);
  const agent = uuidField("agent_id", agentId);
  if (reason.length > 512) throw invalidField("reason", "at most 512 characters", `${reason.length}`);
  const key = await deps.store.revoke(tenant, agent, keyId, reason, deps.clock.now());
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
  await deps.onRevoked?.(tenant, agent, keyId);
  return key;
}
