// Agent SDK: open a VES-ENC-1 encrypted payload as one of its recipients (ves-protocol.md §2.2, §5): unwrap the
// data key with HPKE (info = payload_aad), decrypt AES-256-GCM, and check payload_plain_hash by re-canonicalising
// the parsed plaintext. Browser-safe.
import { x25519 } from "@noble/curves/ed25519.js";
import { equalBytes } from "../crypto/bytes.js";
import { parseJsonPayload } from "../crypto/canonicalJson.js";
import { payloadAad } from "../crypto/encryptedPayload.js";
import { payloadPlainHashSalted } from "../crypto/payloadHash.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import { AgentError } from "./agentError.js";
import { aesGcmOpen, type EncryptionContext, vesHpkeSuite } from "./encryptPayload.js";

/** The fields of an encrypted event that decryption needs (a proto Event or a SignedEvent both fit). */
export interface EncryptedEventToOpen extends EncryptionContext {
  readonly payloadPlainHash: Uint8Array;
  readonly payloadEncrypted?:
    | {
        readonly nonce: Uint8Array;
        readonly ciphertext: Uint8Array;
        readonly tag: Uint8Array;
        readonly recipients: readonly {
          readonly recipientKid: number;
          readonly enc: Uint8Array;
          readonly ct: Uint8Array;
        }[];
      }
    | undefined;
}

/** A recipient's X25519 key pair (raw 32-byte keys). */
export interface RecipientKey {
  readonly kid: number;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A new X25519 recipient key pair. */
export function generateRecipientKey(kid: number): RecipientKey {
  const privateKey = x25519.utils.randomSecretKey();
  return { kid, privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

/** Decrypts and returns the payload; throws AgentError("bad_event") if it is not for this key or does not verify. */
export async function decryptPayload(
  event: EncryptedEventToOpen,
  key: Pick<RecipientKey, "kid" | "privateKey">,
  opts: { readonly sha256?: Sha256 } = {},
): Promise<unknown> {
  const sha256 = opts.sha256 ?? nobleSha256;
  const fail = (code: string, message: string): never => {
    throw new AgentError("bad_event", `event ${event.eventId}: ${message}`, { eventId: event.eventId, code });
  };
  const p = event.payloadEncrypted;
  if (p === undefined) return fail("not_encrypted", "the payload is not encrypted");
  const r = p.recipients.find((x) => x.recipientKid === key.kid);
  if (r === undefined) return fail("not_a_recipient", `no recipient with key id ${key.kid}`);
  const aad = payloadAad(sha256, event);
  const suite = vesHpkeSuite();
  let dek: Uint8Array;
  try {
    const recipientKey = await suite.kem.importKey("raw", key.privateKey, false);
    dek = new Uint8Array(await suite.open({ recipientKey, enc: r.enc, info: aad }, r.ct, new Uint8Array(0)));
  } catch (err) {
    return fail("unwrap_failed", `the data key does not open with key ${key.kid}: ${(err as Error).message}`);
  }
  let plaintext: Uint8Array;
  try {
    plaintext = await aesGcmOpen(dek, p.nonce, p.ciphertext, p.tag, aad);
  } catch {
    return fail("decrypt_failed", "the ciphertext does not authenticate");
  }
  if (plaintext.length < 17) return fail("malformed", "the plaintext is shorter than salt and payload");
  const payload = parseJsonPayload(plaintext.subarray(16));
  if (
    !equalBytes(payloadPlainHashSalted(sha256, plaintext.subarray(0, 16), payload), event.payloadPlainHash)
  ) {
    return fail("payload_hash_mismatch", "the decrypted payload does not match payload_plain_hash");
  }
  return payload;
}
