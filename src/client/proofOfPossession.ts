// Agent SDK: proof of possession for key registration, Ed25519 over H("VES_POP_V1" || public key) (§2.7).
import { popChallenge } from "../crypto/popChallenge.js";
import type { AgentSigner, SigningCrypto } from "./signEvent.js";
import { portableCrypto } from "./signEvent.js";

export function proofOfPossession(
  publicKey: Uint8Array,
  signer: AgentSigner,
  crypto: SigningCrypto = portableCrypto,
): Uint8Array {
  return signer.sign(popChallenge(crypto.sha256, publicKey));
}
