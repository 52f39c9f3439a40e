// Rules shared by the use cases of agents' keys: the audit subject of a signing key, the checks of a signing key
// being registered (registerAgentKey, rotateAgentKey) and the validity window of a new key, signing or
// encryption (registerEncryptionKey).
import { isValidEd25519PublicKey } from "../crypto/ed25519.js";
import { popChallenge } from "../crypto/popChallenge.js";
import { agentKeyRef } from "../domain/agentKey.js";
import { DomainError, invalidField } from "../domain/errors.js";
import type { AgentKeyDeps } from "./ports.js";

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
