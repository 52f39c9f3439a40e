import { Aes128Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { describe, expect, it } from "vitest";
import hpkeVector from "../../test/vectors/hpke-rfc9180.json" with { type: "json" };
import vectors from "../../test/vectors/ves-v1.json" with { type: "json" };
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { nobleEd25519 } from "../crypto/ed25519.js";
import { payloadAad, payloadCipherHash, recipientsHash } from "../crypto/encryptedPayload.js";
import { eventSigningHash } from "../crypto/eventSigningHash.js";
import { nobleSha256 } from "../crypto/sha256.js";
import { decryptPayload, generateRecipientKey } from "./decryptPayload.js";
import { aesGcmOpen, aesGcmSeal, encryptPayload } from "./encryptPayload.js";
import { signEncryptedEvent } from "./signEncryptedEvent.js";

const h = hexToBytes;

describe("RFC 9180 A.1.1 through @hpke/core and @hpke/dhkem-x25519", () => {
  it("derives the published keys, encapsulation and ciphertext", async () => {
    const v = hpkeVector;
    const suite = new CipherSuite({
      kem: new DhkemX25519HkdfSha256(),
      kdf: new HkdfSha256(),
      aead: new Aes128Gcm(),
    });
    const r = await suite.kem.deriveKeyPair(h(v.ikmRHex));
    expect(bytesToHex(new Uint8Array(await suite.kem.serializePublicKey(r.publicKey)))).toBe(v.pkRmHex);
    expect(bytesToHex(new Uint8Array(await suite.kem.serializePrivateKey(r.privateKey)))).toBe(v.skRmHex);
    const ekm = await suite.kem.deriveKeyPair(h(v.ikmEHex));
    const recipientPublicKey = await suite.kem.deserializePublicKey(h(v.pkRmHex));
    const sender = await suite.createSenderContext({ recipientPublicKey, info: h(v.infoHex), ekm });
    expect(bytesToHex(new Uint8Array(sender.enc))).toBe(v.encHex);
    expect(bytesToHex(new Uint8Array(await sender.seal(h(v.ptHex), h(v.aadHex))))).toBe(v.ctHex);
    const recipientKey = await suite.kem.deserializePrivateKey(h(v.skRmHex));
    const opened = await suite.open(
      { recipientKey, enc: h(v.encHex), info: h(v.infoHex) },
      h(v.ctHex),
      h(v.aadHex),
    );
    expect(bytesToHex(new Uint8Array(opened))).toBe(v.ptHex);
  });
});

describe("VES-ENC-1 (§5, §11.3)", () => {
  const v = vectors.encryptedEvent;
  const ctx = {
    tenantId: v.event.tenantId,
    storeId: v.event.storeId,
    eventId: v.event.eventId,
    sourceAgentId: v.event.sourceAgentId,
    agentKeyId: v.event.agentKeyId,
    entityType: v.event.entityType,
    entityId: v.event.entityId,
    eventType: v.event.eventType,
    createdAt: v.event.createdAt,
  };
  const payload = JSON.parse(v.payloadJson);
  /** Hands out the vector's salt, data key and nonce, in the order encryptPayload draws them. */
  const fixed = () => {
    const draws = [h(v.saltHex), h(v.dekHex), h(v.nonceHex)];
    return (n: number) => {
      const b = draws.shift() as Uint8Array;
      expect(b.length).toBe(n);
      return b;
    };
  };

  it("AES-256-GCM matches §11.3", async () => {
    const c = vectors.aesGcm.vectors[0] as (typeof vectors.aesGcm.vectors)[number];
    const sealed = await aesGcmSeal(h(c.keyHex), h(c.nonceHex), h(c.plaintextHex), h(c.aadHex));
    expect(bytesToHex(sealed.ciphertext)).toBe(c.expectedCiphertextHex);
    expect(bytesToHex(sealed.tag)).toBe(c.expectedTagHex);
    const opened = await aesGcmOpen(h(c.keyHex), h(c.nonceHex), sealed.ciphertext, sealed.tag, h(c.aadHex));
    expect(bytesToHex(opened)).toBe(c.plaintextHex);
  });

  it("encrypts the §11.3 event to its published hashes, ciphertext and tag; recipients open it", async () => {
    const a = generateRecipientKey(7);
    const b = generateRecipientKey(2);
    const res = await encryptPayload(ctx, payload, [a, b], { randomBytes: fixed() });
    expect(bytesToHex(res.payloadPlainHash)).toBe(v.expectedPayloadPlainHashHex);
    expect(bytesToHex(payloadAad(nobleSha256, { ...ctx, payloadPlainHash: res.payloadPlainHash }))).toBe(
      v.expectedPayloadAadHex,
    );
    const p = res.payloadEncrypted;
    expect(bytesToHex(p.ciphertext)).toBe(v.expectedCiphertextHex);
    expect(bytesToHex(p.tag)).toBe(v.expectedTagHex);
    expect(p.hpke).toEqual({
      mode: "base",
      kem: "X25519-HKDF-SHA256",
      kdf: "HKDF-SHA256",
      aead: "AES-256-GCM",
    });
    expect(p.recipients.map((r) => [r.recipientKid, r.enc.length, r.ct.length])).toEqual([
      [2, 32, 48],
      [7, 32, 48],
    ]);
    expect(res.payloadCipherHash).toEqual(
      payloadCipherHash(nobleSha256, {
        nonce: p.nonce,
        payloadAad: h(v.expectedPayloadAadHex),
        ciphertext: p.ciphertext,
        tag: p.tag,
        recipientsHash: recipientsHash(nobleSha256, p.recipients),
      }),
    );
    const event = { ...ctx, payloadPlainHash: res.payloadPlainHash, payloadEncrypted: p };
    expect(await decryptPayload(event, a)).toEqual(payload);
    expect(await decryptPayload(event, b)).toEqual(payload);
    const stranger = generateRecipientKey(7);
    await expect(decryptPayload(event, stranger)).rejects.toMatchObject({
      reason: "bad_event",
      code: "unwrap_failed",
    });
    await expect(decryptPayload(event, generateRecipientKey(3))).rejects.toMatchObject({
      code: "not_a_recipient",
    });
    // Any other event context (here the entity id) changes the AAD: the key does not unwrap.
    await expect(decryptPayload({ ...event, entityId: "WIDGET-002" }, a)).rejects.toMatchObject({
      code: "unwrap_failed",
    });
    const flipped = {
      ...event,
      payloadEncrypted: { ...p, ciphertext: p.ciphertext.map((x, i) => (i === 0 ? x ^ 1 : x)) },
    };
    await expect(decryptPayload(flipped, a)).rejects.toMatchObject({ code: "decrypt_failed" });
  });

  it("refuses no recipients, duplicate key ids and wrong key lengths", async () => {
    const a = generateRecipientKey(1);
    await expect(encryptPayload(ctx, payload, [])).rejects.toThrow(RangeError);
    await expect(encryptPayload(ctx, payload, [a, { ...a }])).rejects.toThrow(/appears twice/);
    await expect(encryptPayload(ctx, payload, [{ kid: 1, publicKey: new Uint8Array(31) }])).rejects.toThrow(
      /32 bytes/,
    );
  });

  it("signs an encrypted event over payload_kind 1 and both hashes", async () => {
    const seed = h(v.signature.seedHex);
    const signed = await signEncryptedEvent(
      { ...ctx, payload },
      [generateRecipientKey(1)],
      { sign: nobleEd25519.createSigner(seed) },
      undefined,
      { randomBytes: fixed() },
    );
    expect(signed.payloadKind).toBe(1);
    expect(bytesToHex(signed.payloadPlainHash)).toBe(v.expectedPayloadPlainHashHex);
    expect(signed.signingHash).toEqual(
      eventSigningHash(nobleSha256, {
        vesVersion: 1,
        ...ctx,
        payloadKind: 1,
        payloadPlainHash: signed.payloadPlainHash,
        payloadCipherHash: signed.payloadCipherHash,
      }),
    );
    expect(
      nobleEd25519.verify(signed.agentSignature, signed.signingHash, nobleEd25519.getPublicKey(seed)),
    ).toBe(true);
  });
});
