// Agent SDK: VES-ENC-1 end-to-end payload encryption (ves-protocol.md §2.2, §5). AES-256-GCM under a random
// data key over salt16 ‖ JCS(payload) with AAD = payload_aad; the data key wrapped for each recipient with HPKE
// (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, info = payload_aad, empty aad.
// WebCrypto and @hpke/core: runs in Node and browsers.
import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { utf8 } from "../crypto/bytes.js";
import { canonicalJson } from "../crypto/canonicalJson.js";
import {
  type PayloadAadFields,
  payloadAad,
  payloadCipherHash,
  recipientsHash,
} from "../crypto/encryptedPayload.js";
import { payloadPlainHashSalted } from "../crypto/payloadHash.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";

/** The HPKE suite of VES-ENC-1. */
export function vesHpkeSuite(): CipherSuite {
  return new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
}

export const VES_ENC_1_HPKE = {
  mode: "base",
  kem: "X25519-HKDF-SHA256",
  kdf: "HKDF-SHA256",
  aead: "AES-256-GCM",
} as const;

/** A recipient: its key id (unique per event) and 32-byte X25519 public key. */
export interface PayloadRecipient {
  readonly kid: number;
  readonly publicKey: Uint8Array;
}

/** The event fields the AAD binds (everything signed except the kind and the hashes). */
export type EncryptionContext = Omit<PayloadAadFields, "payloadPlainHash">;

/** The encrypted payload as the proto EncryptedPayload carries it (raw bytes). */
export interface EncryptedPayloadParts {
  readonly encVersion: 1;
  readonly aead: "AES-256-GCM";
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
  readonly hpke: typeof VES_ENC_1_HPKE;
  readonly recipients: readonly {
    readonly recipientKid: number;
    readonly enc: Uint8Array;
    readonly ct: Uint8Array;
  }[];
}

export interface EncryptedPayloadResult {
  readonly payloadPlainHash: Uint8Array;
  readonly payloadCipherHash: Uint8Array;
  readonly payloadEncrypted: EncryptedPayloadParts;
}

export interface EncryptPayloadOptions {
  readonly sha256?: Sha256;
  /** Random bytes (default crypto.getRandomValues); injectable for known-answer tests. */
  readonly randomBytes?: (n: number) => Uint8Array;
}

const subtle = (): typeof globalThis.crypto.subtle => globalThis.crypto.subtle;

/** AES-256-GCM: ciphertext and the 16-byte tag, separately. */
export async function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<{ ciphertext: Uint8Array; tag: Uint8Array }> {
  const k = await subtle().importKey("raw", key, { name: "AES-GCM" }, false, ["encrypt"]);
  const out = new Uint8Array(
    await subtle().encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, k, plaintext),
  );
  return { ciphertext: out.slice(0, out.length - 16), tag: out.slice(out.length - 16) };
}

export async function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  const k = await subtle().importKey("raw", key, { name: "AES-GCM" }, false, ["decrypt"]);
  const joined = new Uint8Array(ciphertext.length + tag.length);
  joined.set(ciphertext);
  joined.set(tag, ciphertext.length);
  return new Uint8Array(
    await subtle().decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, k, joined),
  );
}

/**
 * Encrypts `payload` (any JSON value but null) for `recipients` (at least one; key ids unique). Returns the two
 * payload hashes to sign and the encrypted payload, recipients in ascending key-id order as the sequencer requires.
 */
export async function encryptPayload(
  ctx: EncryptionContext,
  payload: unknown,
  recipients: readonly PayloadRecipient[],
  opts: EncryptPayloadOptions = {},
): Promise<EncryptedPayloadResult> {
  const sha256 = opts.sha256 ?? nobleSha256;
  const random = opts.randomBytes ?? ((n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n)));
  if (recipients.length === 0) throw new RangeError(`"recipients" expected at least one recipient, got 0`);
  const sorted = [...recipients].sort((a, b) => a.kid - b.kid);
  for (const [i, r] of sorted.entries()) {
    if (!Number.isInteger(r.kid) || r.kid < 0 || r.kid > 0xffffffff) {
      throw new RangeError(`"recipients[].kid" expected a u32, got ${r.kid}`);
    }
    if (i > 0 && sorted[i - 1]?.kid === r.kid)
      throw new RangeError(`"recipients[].kid" ${r.kid} appears twice`);
    if (!(r.publicKey instanceof Uint8Array) || r.publicKey.length !== 32) {
      throw new RangeError(`"recipients[${r.kid}].publicKey" expected 32 bytes (X25519)`);
    }
  }
  const canonical = utf8(canonicalJson(payload));
  const salt = random(16);
  const dek = random(32);
  const nonce = random(12);
  const payloadPlainHash = payloadPlainHashSalted(sha256, salt, payload);
  const aad = payloadAad(sha256, { ...ctx, payloadPlainHash });
  const plaintext = new Uint8Array(16 + canonical.length);
  plaintext.set(salt);
  plaintext.set(canonical, 16);
  const { ciphertext, tag } = await aesGcmSeal(dek, nonce, plaintext, aad);
  const suite = vesHpkeSuite();
  const wrapped = [];
  for (const r of sorted) {
    const recipientPublicKey = await suite.kem.deserializePublicKey(r.publicKey);
    const sealed = await suite.seal({ recipientPublicKey, info: aad }, dek, new Uint8Array(0));
    wrapped.push({ recipientKid: r.kid, enc: new Uint8Array(sealed.enc), ct: new Uint8Array(sealed.ct) });
  }
  const cipherHash = payloadCipherHash(sha256, {
    nonce,
    payloadAad: aad,
    ciphertext,
    tag,
    recipientsHash: recipientsHash(sha256, wrapped),
  });
  return {
    payloadPlainHash,
    payloadCipherHash: cipherHash,
    payloadEncrypted: {
      encVersion: 1,
      aead: "AES-256-GCM",
      nonce,
      ciphertext,
      tag,
      hpke: VES_ENC_1_HPKE,
      recipients: wrapped,
    },
  };
}
