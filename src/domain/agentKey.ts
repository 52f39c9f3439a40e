// Agent signing keys and their effective status at a point in time (docs/protocol.md §3.1, §16.8).

export type KeyStatus = "active" | "revoked" | "not_yet_valid" | "expired";

/** The lifecycle fields of a registered key; the public key itself never changes. */
export interface AgentKeyValidity {
  readonly validFrom: Date;
  readonly validTo: Date | undefined;
  readonly revokedAt: Date | undefined;
}

export interface AgentKey extends AgentKeyValidity {
  readonly tenantId: string;
  readonly agentId: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly algorithm: "ed25519";
  readonly revocationReason: string | undefined;
  readonly createdAt: Date;
}

/**
 * Status from revocation and the validity window, never from a stored status column (this fixes upstream's
 * "expired inside its window counts as active" bug). `valid_to` itself is still valid, as upstream.
 */
export function keyStatusAt(key: AgentKeyValidity, now: Date): KeyStatus {
  const t = now.getTime();
  if (key.revokedAt !== undefined && t >= key.revokedAt.getTime()) return "revoked";
  if (t < key.validFrom.getTime()) return "not_yet_valid";
  if (key.validTo !== undefined && t > key.validTo.getTime()) return "expired";
  return "active";
}

/** Map key for one agent key within a tenant. */
export function agentKeyRef(agentId: string, keyId: number): string {
  return `${agentId}/${keyId}`;
}
