// Agents' X25519 encryption (recipient) keys for VES-ENC-1 payloads. Their status is computed like a signing
// key's (keyStatusAt in agentKey.ts): from revocation and the validity window.
import type { AgentKeyValidity } from "./agentKey.js";

export interface EncryptionKey extends AgentKeyValidity {
  readonly tenantId: string;
  readonly agentId: string;
  /** Unique within the tenant: it alone names the recipient inside an encrypted payload. */
  readonly recipientKid: number;
  readonly publicKey: Uint8Array;
  readonly algorithm: "x25519";
  readonly revocationReason: string | undefined;
  readonly createdAt: Date;
}

export function encryptionKeySubject(agentId: string, recipientKid: number): string {
  return `encryption_key:${agentId}/${recipientKid}`;
}
