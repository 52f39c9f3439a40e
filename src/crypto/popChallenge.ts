// Proof-of-possession challenge H("VES_POP_V1" ‖ public key) (docs/protocol.md §2.7).
import { assertBytes } from "./bytes.js";
import { DOMAIN_POP } from "./domains.js";
import type { Sha256 } from "./sha256.js";

/** The 32-byte challenge for `publicKey` (the Ed25519 key, or a hybrid/PQC key bundle's concatenated bytes). */
export function popChallenge(sha256: Sha256, publicKey: Uint8Array): Uint8Array {
  const pk = assertBytes(publicKey, undefined, "public_key");
  if (pk.length === 0) throw new RangeError(`"public_key" expected at least 1 byte, got 0`);
  const pre = new Uint8Array(DOMAIN_POP.length + pk.length);
  pre.set(DOMAIN_POP, 0);
  pre.set(pk, DOMAIN_POP.length);
  return sha256(pre);
}
