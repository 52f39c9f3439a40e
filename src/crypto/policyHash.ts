// Compliance policy hash, proof hashes and public_inputs_hash (docs/protocol.md §2.7, §6, decision §16.5).
import { assertBytes, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonicalJson.js";
import {
  DOMAIN_COMPLIANCE_POLICY_HASH,
  DOMAIN_COMPLIANCE_PROOF_HASH,
  DOMAIN_VALIDITY_PROOF_HASH,
} from "./domains.js";
import type { Sha256 } from "./sha256.js";

function domainHash(sha256: Sha256, domain: Uint8Array, body: Uint8Array): Uint8Array {
  const pre = new Uint8Array(domain.length + body.length);
  pre.set(domain, 0);
  pre.set(body, domain.length);
  return sha256(pre);
}

/** policy_hash = H("STATESET_VES_COMPLIANCE_POLICY_HASH_V1" ‖ JCS({"policyId": id, "policyParams": params})). */
export function policyHash(sha256: Sha256, policyId: string, policyParams: unknown): Uint8Array {
  if (typeof policyId !== "string")
    throw new TypeError(`"policy_id" expected a string, got ${typeof policyId}`);
  // An undefined member would silently drop out of the JSON and hash a different object.
  if (policyParams === undefined) throw new TypeError(`"policy_params" expected a JSON value, got undefined`);
  return domainHash(sha256, DOMAIN_COMPLIANCE_POLICY_HASH, utf8(canonicalJson({ policyId, policyParams })));
}

/** Compliance proof_hash = H("STATESET_VES_COMPLIANCE_PROOF_HASH_V1" ‖ proof bytes). */
export function complianceProofHash(sha256: Sha256, proof: Uint8Array): Uint8Array {
  return domainHash(sha256, DOMAIN_COMPLIANCE_PROOF_HASH, assertBytes(proof, undefined, "proof"));
}

/** Validity proof_hash = H("STATESET_VES_VALIDITY_PROOF_HASH_V1" ‖ proof bytes). */
export function validityProofHash(sha256: Sha256, proof: Uint8Array): Uint8Array {
  return domainHash(sha256, DOMAIN_VALIDITY_PROOF_HASH, assertBytes(proof, undefined, "proof"));
}

/**
 * public_inputs_hash = H(JCS(inputs)), no domain prefix. This project uses JCS as the prover repo does
 * (§16.5), not upstream's serde_json compact form; the two differ only for floats or non-ASCII keys.
 */
export function publicInputsHash(sha256: Sha256, inputs: unknown): Uint8Array {
  return sha256(utf8(canonicalJson(inputs)));
}
