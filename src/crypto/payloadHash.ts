// payload_plain_hash = H("VES_PAYLOAD_PLAIN_V1" ‖ [salt16 ‖] JCS(payload)) (docs/protocol.md §2.2).
import { assertBytes, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonicalJson.js";
import { DOMAIN_PAYLOAD_PLAIN } from "./domains.js";
import type { Sha256 } from "./sha256.js";

function plainHash(sha256: Sha256, salt: Uint8Array | undefined, canonical: string): Uint8Array {
  const body = utf8(canonical);
  const saltLength = salt === undefined ? 0 : salt.length;
  const pre = new Uint8Array(DOMAIN_PAYLOAD_PLAIN.length + saltLength + body.length);
  pre.set(DOMAIN_PAYLOAD_PLAIN, 0);
  if (salt !== undefined) pre.set(salt, DOMAIN_PAYLOAD_PLAIN.length);
  pre.set(body, DOMAIN_PAYLOAD_PLAIN.length + saltLength);
  return sha256(pre);
}

/** Plaintext payload hash: H(DOMAIN_PAYLOAD_PLAIN ‖ JCS(payload)). */
export function payloadPlainHash(sha256: Sha256, payload: unknown): Uint8Array {
  return plainHash(sha256, undefined, canonicalJson(payload));
}

/** Encrypted-payload plain hash: H(DOMAIN_PAYLOAD_PLAIN ‖ salt16 ‖ JCS(payload)). */
export function payloadPlainHashSalted(sha256: Sha256, salt16: Uint8Array, payload: unknown): Uint8Array {
  assertBytes(salt16, 16, "salt");
  return plainHash(sha256, salt16, canonicalJson(payload));
}

/** Plaintext payload hash from text that is already JCS output (not re-canonicalised). */
export function payloadPlainHashFromCanonical(sha256: Sha256, canonical: string): Uint8Array {
  if (typeof canonical !== "string")
    throw new TypeError(`"canonical" expected a string, got ${typeof canonical}`);
  return plainHash(sha256, undefined, canonical);
}
