// Upstream vector files (test/vectors/upstream, from the reference implementation): usable parts checked,
// known-bad parts named (docs/protocol.md §11.1).
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { x25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { base64urlToBytes, bytesToBase64url } from "./base64url.js";
import {
  bytesToHex,
  concatBytes,
  encStr,
  hexToBytes,
  u32be,
  u64be,
  utf8,
  uuidToBytes,
  ZERO32,
} from "./bytes.js";
import { canonicalJson } from "./canonicalJson.js";
import * as domains from "./domains.js";
import { isValidEd25519PublicKey, nobleEd25519 } from "./ed25519.js";
import { payloadAad } from "./encryptedPayload.js";
import { eventSigningHash, eventSigningPreimage, type SignedEventFields } from "./eventSigningHash.js";
import { nativeSha256, nodeEd25519, sodiumEd25519 } from "./native.js";
import { payloadPlainHash, payloadPlainHashSalted } from "./payloadHash.js";
import { nobleSha256 } from "./sha256.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const upstreamDir = path.resolve(repoRoot, "test", "vectors", "upstream");
const ownVectorsFile = path.resolve(repoRoot, "test", "vectors", "ves-v1.json");

const PLACEHOLDER_SIG = "COMPUTE_FROM_IMPLEMENTATION";
const PLACEHOLDER_ENC = "IMPLEMENTATION_SPECIFIC";
const impls = [sodiumEd25519, nodeEd25519, nobleEd25519];
const shas = [nativeSha256, nobleSha256];
const hex = bytesToHex;
const h = (s: string): Uint8Array => hexToBytes(s);

// Loose shapes: the files are upstream's, read as data; each test reads only what it checks.
// biome-ignore lint/suspicious/noExplicitAny: untyped upstream JSON
type Json = any;

function load(name: string): Json {
  return JSON.parse(readFileSync(path.join(upstreamDir, name), "utf8"));
}

/** Hex strings of 16 bytes or more anywhere in a section: a section of prose has none. */
function hexValuesIn(section: Json): string[] {
  return JSON.stringify(section).match(/\b(?:0x)?[0-9a-f]{32,}\b/gi) ?? [];
}

function ourVectors(): Json {
  return JSON.parse(readFileSync(ownVectorsFile, "utf8"));
}

function signedFields(e: Json, plainHash: Uint8Array, cipherHash: Uint8Array): SignedEventFields {
  return {
    vesVersion: e.ves_version,
    tenantId: e.tenant_id,
    storeId: e.store_id,
    eventId: e.event_id,
    sourceAgentId: e.source_agent_id,
    agentKeyId: e.agent_key_id,
    entityType: e.entity_type,
    entityId: e.entity_id,
    eventType: e.event_type,
    createdAt: e.created_at,
    payloadKind: e.payload_kind,
    payloadPlainHash: plainHash,
    payloadCipherHash: cipherHash,
  };
}

function x25519PublicKeyNode(privateKey: Uint8Array): string {
  const der = concatBytes(h("302e020100300506032b656e04220420"), privateKey);
  const spki = createPublicKey(
    createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" }),
  ).export({
    format: "der",
    type: "spki",
  });
  return hex(new Uint8Array(spki.subarray(spki.length - 32)));
}

describe("upstream ves_sig_1_test_vectors.json", () => {
  const file = load("ves_sig_1_test_vectors.json");

  it("key_generation: RFC 8032 keys 1-3", () => {
    for (const v of file.key_generation.vectors) {
      for (const ed of impls)
        expect(hex(ed.getPublicKey(h(v.seed_hex))), `${v.name} ${ed.name}`).toBe(v.public_key_hex);
    }
  });

  it("key_registry: sample public keys are valid, non-small-order points", () => {
    for (const e of file.key_registry.sample_entries)
      expect(isValidEd25519PublicKey(h(e.public_key_hex))).toBe(true);
  });

  it("domain_separators: hex and lengths", () => {
    const exported = domains as Record<string, Uint8Array>;
    for (const [name, d] of Object.entries<Json>(file.domain_separators.values)) {
      expect(hex(exported[name] as Uint8Array), name).toBe(d.hex);
      expect(utf8(d.ascii), name).toEqual(exported[name]);
      expect(d.length, name).toBe(d.hex.length / 2);
    }
  });

  it("encoding_primitives: u32, u64, ENC_STR, UUID", () => {
    const p = file.encoding_primitives;
    for (const v of p.u32_be) expect(hex(u32be(v.input))).toBe(v.expected_hex);
    for (const v of p.u64_be) expect(hex(u64be(BigInt(v.input)))).toBe(v.expected_hex);
    for (const v of p.enc_str) expect(hex(encStr(v.input))).toBe(v.expected_hex);
    for (const v of p.uuid_bytes) expect(hex(uuidToBytes(v.uuid))).toBe(v.expected_hex);
  });

  it("ed25519_signatures: RFC 8032 tests 1-2 and determinism", () => {
    for (const v of file.ed25519_signatures.vectors) {
      for (const ed of impls) {
        expect(hex(ed.createSigner(h(v.private_key_hex))(h(v.message_hex))), `${v.name} ${ed.name}`).toBe(
          v.signature_hex,
        );
        expect(ed.verify(h(v.signature_hex), h(v.message_hex), h(v.public_key_hex))).toBe(true);
      }
    }
    const d = file.ed25519_signatures.determinism_test;
    for (const ed of impls) {
      const sign = ed.createSigner(h(d.private_key_hex));
      expect(sign(h(d.message_hex))).toEqual(sign(h(d.message_hex)));
    }
  });

  it("payload_plain_hash[*].canonical_json: JCS strings", () => {
    for (const v of file.payload_plain_hash.vectors)
      expect(canonicalJson(v.payload), v.name).toBe(v.canonical_json);
  });

  it(`payload_plain_hash[*].expected_hash_hex is the placeholder ${PLACEHOLDER_SIG}: checked against §11.3 instead`, () => {
    const ours = new Map<string, string>(
      ourVectors()
        .payloadPlainHash.vectors.filter((v: Json) => v.saltHex === null)
        .map((v: Json) => [v.canonicalJson, v.expectedHex] as const),
    );
    for (const v of file.payload_plain_hash.vectors) {
      expect(v.expected_hash_hex, v.name).toBe(PLACEHOLDER_SIG);
      for (const sha of shas)
        expect(hex(payloadPlainHash(sha, v.payload)), v.name).toBe(ours.get(v.canonical_json));
    }
  });

  it("event_signing_params.preimage_total_bytes 218 is wrong upstream: the preimage is 222 bytes (its own structure list sums to 222)", () => {
    const p = file.event_signing_params;
    expect(p.preimage_total_bytes).toBe(218);
    const fields = signedFields(
      p.test_event,
      h(p.test_event.payload_plain_hash_hex),
      h(p.test_event.payload_cipher_hash_hex),
    );
    expect(eventSigningPreimage(fields)).toHaveLength(222);
    const listed = (p.preimage_structure as string[])
      .map((line) => /\(([\d +]+) bytes\)/.exec(line)?.[1] ?? "0")
      .reduce((sum, part) => sum + part.split("+").reduce((a, b) => a + Number(b), 0), 0);
    expect(listed).toBe(222);
    const zero = ourVectors().eventSigningHash.vectors.find((v: Json) => v.name === "zero_hashes");
    for (const sha of shas) expect(hex(eventSigningHash(sha, fields))).toBe(zero.expectedHex);
  });

  it(`full_signing_test.expected is the placeholder ${PLACEHOLDER_SIG}: checked against §11.3 instead`, () => {
    const t = file.full_signing_test;
    expect(t.expected.payload_plain_hash_hex).toBe(PLACEHOLDER_SIG);
    expect(t.expected.event_signing_hash_hex).toBe(PLACEHOLDER_SIG);
    expect(t.expected.agent_signature_hex).toBe(PLACEHOLDER_SIG);
    // The cipher hash it does give (zeros for plaintext, "0x"-prefixed) is right.
    expect(hexToBytes(t.expected.payload_cipher_hash_hex, "payload_cipher_hash_hex", 32)).toEqual(ZERO32);
    const full = ourVectors().eventSigningHash.vectors.find((v: Json) => v.name === "full_signing_test");
    for (const sha of shas) {
      const plain = payloadPlainHash(sha, t.event.payload);
      expect(hex(plain)).toBe(full.event.payloadPlainHashHex);
      const signingHash = eventSigningHash(sha, signedFields(t.event, plain, ZERO32));
      expect(hex(signingHash)).toBe(full.expectedHex);
      for (const ed of impls) {
        expect(hex(ed.getPublicKey(h(t.private_key_hex)))).toBe(t.public_key_hex);
        expect(hex(ed.createSigner(h(t.private_key_hex))(signingHash))).toBe(full.signature.expectedHex);
      }
    }
  });

  it("merkle_leaf_integration.total_bytes: 147", () => {
    const lengths = [domains.DOMAIN_LEAF.length, 16, 16, 8, 32, 64];
    expect(lengths.reduce((a, b) => a + b)).toBe(file.merkle_leaf_integration.total_bytes);
  });

  it("verification_test_cases, validation_checklist: prose checklists with no values to check (validation lives in domain/)", () => {
    expect(hexValuesIn(file.verification_test_cases)).toEqual([]);
    expect(hexValuesIn(file.validation_checklist)).toEqual([]);
  });
});

describe("upstream ves_enc_1_test_vectors.json", () => {
  const file = load("ves_enc_1_test_vectors.json");

  it("canonicalization: the six JCS cases", () => {
    for (const v of file.canonicalization.vectors) expect(canonicalJson(v.input), v.name).toBe(v.expected);
  });

  it("domain_separators: hex is right", () => {
    const exported = domains as Record<string, Uint8Array>;
    for (const [name, d] of Object.entries<Json>(file.domain_separators.values)) {
      expect(hex(exported[name] as Uint8Array), name).toBe(d.hex);
      expect(utf8(d.ascii), name).toEqual(exported[name]);
    }
  });

  it("domain_separators lengths 22 (CIPHER) and 16 (RECIPIENTS) are wrong upstream: 21 and 17", () => {
    const d = file.domain_separators.values;
    expect(d.DOMAIN_PAYLOAD_CIPHER.length).toBe(22);
    expect(d.DOMAIN_RECIPIENTS.length).toBe(16);
    expect(domains.DOMAIN_PAYLOAD_CIPHER).toHaveLength(21);
    expect(domains.DOMAIN_RECIPIENTS).toHaveLength(17);
    expect(d.DOMAIN_PAYLOAD_CIPHER.hex.length / 2).toBe(21);
    expect(d.DOMAIN_RECIPIENTS.hex.length / 2).toBe(17);
    // The lengths given for the other two are right.
    expect(d.DOMAIN_PAYLOAD_PLAIN.length).toBe(domains.DOMAIN_PAYLOAD_PLAIN.length);
    expect(d.DOMAIN_PAYLOAD_AAD.length).toBe(domains.DOMAIN_PAYLOAD_AAD.length);
  });

  it("payload_plain_hash[*].canonical_json: JCS strings", () => {
    for (const v of file.payload_plain_hash.vectors)
      expect(canonicalJson(v.payload), v.name).toBe(v.canonical_json);
  });

  it("payload_plain_hash[*].expected_hash values are fabricated upstream (0x7c3c0b8a…, 0x8f9a0b1c…): ours are the §11.3 values", () => {
    const ours = new Map<string, string>(
      ourVectors().payloadPlainHash.vectors.map(
        (v: Json) => [`${v.saltHex}:${v.canonicalJson}`, v.expectedHex] as const,
      ),
    );
    for (const v of file.payload_plain_hash.vectors) {
      for (const sha of shas) {
        const got =
          v.salt_hex === null
            ? payloadPlainHash(sha, v.payload)
            : payloadPlainHashSalted(sha, h(v.salt_hex), v.payload);
        expect(hex(got), v.name).toBe(ours.get(`${v.salt_hex}:${v.canonical_json}`));
        expect(hex(got), v.name).not.toBe(hex(hexToBytes(v.expected_hash)));
      }
    }
  });

  it("hpke_key_pairs: recipients 1-2 are RFC 7748 keys", () => {
    for (const v of file.hpke_key_pairs.test_keys.slice(0, 2)) {
      expect(x25519PublicKeyNode(h(v.private_key_hex)), v.name).toBe(v.public_key_hex);
      expect(hex(x25519.getPublicKey(h(v.private_key_hex))), v.name).toBe(v.public_key_hex);
    }
  });

  it("hpke_key_pairs recipient_3 public key is wrong upstream (it is RFC 7748's input u-coordinate): real key 1c9fd88f…", () => {
    const r3 = file.hpke_key_pairs.test_keys[2];
    expect(r3.name).toBe("recipient_3");
    expect(r3.public_key_hex).toBe("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    const real = ourVectors().x25519.vectors.find((v: Json) => v.name === "recipient_3");
    expect(x25519PublicKeyNode(h(r3.private_key_hex))).toBe(real.publicKeyHex);
    expect(hex(x25519.getPublicKey(h(r3.private_key_hex)))).toBe(real.publicKeyHex);
    expect(real.publicKeyHex).not.toBe(r3.public_key_hex);
  });

  it("base64url: the five cases", () => {
    for (const v of file.base64url.vectors) {
      expect(bytesToBase64url(h(v.input_hex))).toBe(v.expected);
      expect(hex(base64urlToBytes(v.expected, "expected", { strict: true }))).toBe(v.input_hex);
    }
  });

  it(`full_encryption.expected_hashes are ${PLACEHOLDER_ENC}: plain hash and AAD checked against §11.3 instead`, () => {
    const f = file.full_encryption;
    for (const value of Object.values(f.expected_hashes)) expect(value).toBe(PLACEHOLDER_ENC);
    const ours = ourVectors().encryptedEvent;
    expect(canonicalJson(f.payload)).toBe(f.intermediate_values.canonical_json);
    for (const sha of shas) {
      const plain = payloadPlainHashSalted(sha, h(f.random_values_hex.salt), f.payload);
      expect(hex(plain)).toBe(ours.expectedPayloadPlainHashHex);
      const c = f.event_context;
      const aad = payloadAad(sha, {
        tenantId: c.tenant_id,
        storeId: c.store_id,
        eventId: c.event_id,
        sourceAgentId: c.source_agent_id,
        agentKeyId: c.agent_key_id,
        entityType: c.entity_type,
        entityId: c.entity_id,
        eventType: c.event_type,
        createdAt: c.created_at,
        payloadPlainHash: plain,
      });
      expect(hex(aad)).toBe(ours.expectedPayloadAadHex);
    }
    expect(f.random_values_hex.dek).toBe(ours.dekHex);
    expect(f.random_values_hex.nonce).toBe(ours.nonceHex);
  });

  it(`aead_test_vectors ciphertext and tag are ${PLACEHOLDER_ENC} (and "NIST" is a mislabel): checked against §11.3 instead`, () => {
    const v = file.aead_test_vectors.vectors[0];
    expect(v.ciphertext_hex).toBe(PLACEHOLDER_ENC);
    expect(v.tag_hex).toBe(PLACEHOLDER_ENC);
    const ours = ourVectors().aesGcm.vectors[0];
    expect([v.key_hex, v.nonce_hex, v.plaintext_hex, v.aad_hex]).toEqual([
      ours.keyHex,
      ours.nonceHex,
      ours.plaintextHex,
      ours.aadHex,
    ]);
  });

  it("error_cases, validation_checklist: prose with no values to check (and 'enc_version MUST be 1' disagrees with the code's {1,2,3})", () => {
    expect(file.error_cases.cases.map((c: Json) => c.expected_error)).toContain("NoRecipients");
    expect(hexValuesIn(file.error_cases)).toEqual([]);
    expect(hexValuesIn(file.validation_checklist)).toEqual([]);
  });
});
