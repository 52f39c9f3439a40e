// Known answers of docs/protocol.md §11.2-§11.3 (test/vectors/ves-v1.json) on the server and SDK paths.
import { createCipheriv, createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { x25519 } from "@noble/curves/ed25519.js";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { describe, expect, it } from "vitest";
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
import { canonicalJson, parseJsonPayload } from "./canonicalJson.js";
import * as domains from "./domains.js";
import type { Ed25519 } from "./ed25519.js";
import { nobleEd25519 } from "./ed25519.js";
import { payloadAad, payloadCipherHash, recipientsHash } from "./encryptedPayload.js";
import { eventSigningHash, eventSigningPreimage, type SignedEventFields } from "./eventSigningHash.js";
import {
  buildMerkleTree,
  inclusionProof,
  leafHash,
  nodeHash,
  PAD_LEAF,
  verifyInclusionProof,
} from "./merkle.js";
import { nativeSha256, nodeEd25519, sodiumEd25519 } from "./native.js";
import { payloadPlainHash, payloadPlainHashFromCanonical, payloadPlainHashSalted } from "./payloadHash.js";
import { complianceProofHash, policyHash, publicInputsHash, validityProofHash } from "./policyHash.js";
import { popChallenge } from "./popChallenge.js";
import { receiptHash } from "./receiptHash.js";
import { nobleSha256, type Sha256 } from "./sha256.js";
import { nextStateRoot, streamId } from "./stateRoot.js";

interface EventVector {
  vesVersion: number;
  tenantId: string;
  storeId: string;
  eventId: string;
  sourceAgentId: string;
  agentKeyId: number;
  entityType: string;
  entityId: string;
  eventType: string;
  createdAt: string;
  payloadKind: 0 | 1;
  payloadPlainHashHex: string;
  payloadCipherHashHex: string;
}
interface SignatureVector {
  signer: string;
  seedHex: string;
  expectedHex: string;
}
interface Vectors {
  domainSeparators: { vectors: { name: string; ascii: string; length: number; hex: string }[] };
  padLeaf: { ascii: string; expectedHex: string };
  uuidToBytes32: { vectors: { uuid: string; expectedHex: string }[] };
  jcs: { vectors: { name: string; inputJson: string; expected: string }[] };
  payloadPlainHash: {
    vectors: {
      name: string;
      payloadJson: string;
      saltHex: string | null;
      canonicalJson: string;
      expectedHex: string;
    }[];
  };
  canonicalJsonHash: { vectors: { name: string; compactJson: string; expectedHex: string }[] };
  eventSigningHash: {
    vectors: {
      name: string;
      payloadJson?: string;
      event: EventVector;
      preimageLength: number;
      expectedHex: string;
      signature?: SignatureVector;
    }[];
  };
  leaf: {
    vectors: {
      name: string;
      tenantId: string;
      storeId: string;
      sequenceNumber: string;
      eventSigningHashHex: string;
      agentSignatureHex: string;
      expectedHex: string;
    }[];
  };
  receipt: {
    vectors: {
      name: string;
      tenantId: string;
      storeId: string;
      eventId: string;
      sequenceNumber: string;
      eventSigningHashHex: string;
      preimageLength: number;
      expectedHex: string;
      signature: SignatureVector;
    }[];
  };
  streamId: { vectors: { tenantId: string; storeId: string; expectedHex: string }[] };
  stateChain: {
    tenantId: string;
    storeId: string;
    merkleRootPreimageAscii: string;
    merkleRootHexPrefix: string;
    merkleRootHexSuffix: string;
    steps: {
      name: string;
      prevStateRoot: "zero" | "previous";
      sequenceStart: string;
      sequenceEnd: string;
      leafCount: number;
      expectedHex: string;
    }[];
  };
  merkleNode: { vectors: { leftHex: string; rightHex: string; expectedHex: string }[] };
  merkleRoots: {
    vectors: {
      name: string;
      leavesHex: string[];
      depth: number;
      rootHex: string;
      proofs: { leafIndex: number; siblingsHex: string[] }[];
    }[];
  };
  encryptedEvent: {
    event: EventVector;
    payloadJson: string;
    saltHex: string;
    dekHex: string;
    nonceHex: string;
    plaintextLength: number;
    expectedPayloadPlainHashHex: string;
    expectedPayloadAadHex: string;
    wrongDocFormAadHexPrefix: string;
    wrongDocFormAadHexSuffix: string;
    expectedCiphertextHex: string;
    expectedTagHex: string;
    recipients: { recipientKid: number; encHex: string; ctHex: string }[];
    expectedRecipientsHashHex: string;
    expectedPayloadCipherHashHex: string;
    expectedEventSigningHashHex: string;
    signature: SignatureVector;
  };
  aesGcm: {
    vectors: {
      name: string;
      keyHex: string;
      nonceHex: string;
      plaintextHex: string;
      aadHex: string;
      expectedCiphertextHex: string;
      expectedTagHex: string;
    }[];
  };
  policyHash: { vectors: { policyId: string; policyParamsJson: string; expectedHex: string }[] };
  publicInputsHash: { vectors: { name: string; inputs: Record<string, unknown>; expectedHex: string }[] };
  proofHash: { vectors: { kind: "validity" | "compliance"; proofAscii: string; expectedHex: string }[] };
  proofOfPossession: {
    vectors: { publicKeyHex: string; expectedChallengeHex: string; signature: SignatureVector }[];
  };
  rfc8032: {
    vectors: {
      name: string;
      seedHex: string;
      publicKeyHex: string;
      messageHex: string;
      signatureHex: string;
    }[];
  };
  x25519: { vectors: { name: string; privateKeyHex: string; publicKeyHex: string }[] };
  legacyCommitmentLeafV1: {
    vectors: {
      tenantId: string;
      storeId: string;
      sequenceNumber: string;
      payloadHashHex: string;
      entityType: string;
      entityId: string;
      expectedHex: string;
    }[];
  };
  atRestAad: {
    vectors: {
      tenantId: string;
      storeId: string;
      eventId: string;
      sequenceNumber: string;
      entityType: string;
      entityId: string;
      eventType: string;
      expectedHex: string;
    }[];
  };
  mlDsa65PublicKeyDigest: { vectors: { seedHex: string; publicKeyLength: number; expectedHex: string }[] };
}

const vectors = JSON.parse(
  readFileSync(new URL("../../test/vectors/ves-v1.json", import.meta.url), "utf8"),
) as Vectors;

const hex = bytesToHex;
const h = (s: string): Uint8Array => hexToBytes(s);

function eventFields(e: EventVector): SignedEventFields {
  return {
    vesVersion: e.vesVersion,
    tenantId: e.tenantId,
    storeId: e.storeId,
    eventId: e.eventId,
    sourceAgentId: e.sourceAgentId,
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt,
    payloadKind: e.payloadKind,
    payloadPlainHash: h(e.payloadPlainHashHex),
    payloadCipherHash: h(e.payloadCipherHashHex),
  };
}

function aesGcm(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): [Uint8Array, Uint8Array] {
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [new Uint8Array(ct), new Uint8Array(cipher.getAuthTag())];
}

interface CryptoPath {
  name: string;
  sha256: Sha256;
  ed: Ed25519;
}

const paths: CryptoPath[] = [
  { name: "server: nativeSha256 + sodiumEd25519", sha256: nativeSha256, ed: sodiumEd25519 },
  { name: "server fallback: nativeSha256 + nodeEd25519", sha256: nativeSha256, ed: nodeEd25519 },
  { name: "SDK: nobleSha256 + nobleEd25519", sha256: nobleSha256, ed: nobleEd25519 },
];

/** Signs with the vector's seed and checks the exact bytes, then that the signature verifies under its key. */
function expectSignature(ed: Ed25519, sig: SignatureVector, message: Uint8Array): void {
  const seed = h(sig.seedHex);
  const signature = ed.createSigner(seed)(message);
  expect(hex(signature)).toBe(sig.expectedHex);
  expect(ed.verify(signature, message, ed.getPublicKey(seed))).toBe(true);
}

describe("vector file", () => {
  it("covers every group with a description", () => {
    const raw = vectors as unknown as Record<string, { description?: unknown }>;
    const groups = Object.keys(raw).filter(
      (k) => typeof raw[k] === "object" && k !== "common" && k !== "conventions",
    );
    expect(groups.sort()).toEqual(
      [
        "aesGcm",
        "atRestAad",
        "canonicalJsonHash",
        "domainSeparators",
        "encryptedEvent",
        "eventSigningHash",
        "jcs",
        "leaf",
        "legacyCommitmentLeafV1",
        "merkleNode",
        "merkleRoots",
        "mlDsa65PublicKeyDigest",
        "padLeaf",
        "payloadPlainHash",
        "policyHash",
        "proofHash",
        "proofOfPossession",
        "publicInputsHash",
        "receipt",
        "rfc8032",
        "stateChain",
        "streamId",
        "uuidToBytes32",
        "x25519",
      ].sort(),
    );
    for (const g of groups) expect(typeof raw[g]?.description, g).toBe("string");
  });

  it("states each domain separator's bytes, as exported by domains.ts", () => {
    const exported = domains as Record<string, Uint8Array>;
    expect(vectors.domainSeparators.vectors).toHaveLength(Object.keys(exported).length);
    for (const d of vectors.domainSeparators.vectors) {
      const bytes = exported[d.name];
      expect(bytes, d.name).toBeInstanceOf(Uint8Array);
      expect(hex(bytes as Uint8Array), d.name).toBe(d.hex);
      expect(bytes?.length, d.name).toBe(d.length);
      expect(hex(utf8(d.ascii)), d.name).toBe(d.hex);
    }
  });

  it("pins the JCS strings of §11.2", () => {
    for (const v of vectors.jcs.vectors)
      expect(canonicalJson(JSON.parse(v.inputJson)), v.name).toBe(v.expected);
  });

  it("maps a UUID to an anchor bytes32 as its 16 bytes then 16 zero bytes", () => {
    for (const v of vectors.uuidToBytes32.vectors) {
      expect(hex(concatBytes(uuidToBytes(v.uuid), new Uint8Array(16)))).toBe(v.expectedHex);
    }
  });

  it("records the AES-256-GCM case (node:crypto)", () => {
    for (const v of vectors.aesGcm.vectors) {
      const [ct, tag] = aesGcm(h(v.keyHex), h(v.nonceHex), h(v.aadHex), h(v.plaintextHex));
      expect(hex(ct), v.name).toBe(v.expectedCiphertextHex);
      expect(hex(tag), v.name).toBe(v.expectedTagHex);
    }
  });

  it("derives the X25519 public key of RFC 7748 scalars (node:crypto and noble)", () => {
    for (const v of vectors.x25519.vectors) {
      const der = concatBytes(h("302e020100300506032b656e04220420"), h(v.privateKeyHex));
      const key = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
      const spki = createPublicKey(key).export({ format: "der", type: "spki" });
      expect(hex(new Uint8Array(spki.subarray(spki.length - 32))), v.name).toBe(v.publicKeyHex);
      expect(hex(x25519.getPublicKey(h(v.privateKeyHex))), v.name).toBe(v.publicKeyHex);
    }
  });

  // Post-quantum signing is out of scope (§16.1); the key derivation is checked so the vector does not rot.
  it("ML-DSA-65 public-key digest: SHA-256 of the key generated from seed 0x01..0x20 (@noble/post-quantum)", () => {
    for (const v of vectors.mlDsa65PublicKeyDigest.vectors) {
      const { publicKey } = ml_dsa65.keygen(h(v.seedHex));
      expect(publicKey.length).toBe(v.publicKeyLength);
      expect(hex(nativeSha256(publicKey))).toBe(v.expectedHex);
    }
  });
});

describe.each(paths)("$name", ({ sha256, ed }) => {
  it("PAD_LEAF = H(VES_PAD_LEAF_V1)", () => {
    expect(hex(sha256(utf8(vectors.padLeaf.ascii)))).toBe(vectors.padLeaf.expectedHex);
    expect(hex(sha256(domains.DOMAIN_PAD_LEAF))).toBe(hex(PAD_LEAF));
    expect(hex(PAD_LEAF)).toBe(vectors.padLeaf.expectedHex);
  });

  it.each(vectors.payloadPlainHash.vectors)("payload_plain_hash $name", (v) => {
    const payload = parseJsonPayload(utf8(v.payloadJson));
    expect(canonicalJson(payload)).toBe(v.canonicalJson);
    if (v.saltHex === null) {
      expect(hex(payloadPlainHash(sha256, payload))).toBe(v.expectedHex);
      expect(hex(payloadPlainHashFromCanonical(sha256, v.canonicalJson))).toBe(v.expectedHex);
    } else {
      expect(hex(payloadPlainHashSalted(sha256, h(v.saltHex), payload))).toBe(v.expectedHex);
    }
  });

  it.each(vectors.canonicalJsonHash.vectors)("legacy canonical_json_hash $name", (v) => {
    expect(hex(sha256(utf8(v.compactJson)))).toBe(v.expectedHex);
  });

  it.each(vectors.eventSigningHash.vectors)("event signing hash $name", (v) => {
    const fields = eventFields(v.event);
    if (v.payloadJson !== undefined) {
      expect(hex(payloadPlainHash(sha256, JSON.parse(v.payloadJson)))).toBe(v.event.payloadPlainHashHex);
    }
    expect(eventSigningPreimage(fields)).toHaveLength(v.preimageLength);
    const signingHash = eventSigningHash(sha256, fields);
    expect(hex(signingHash)).toBe(v.expectedHex);
    if (v.signature !== undefined) expectSignature(ed, v.signature, signingHash);
  });

  it.each(vectors.leaf.vectors)("leaf $name", (v) => {
    const leaf = leafHash(sha256, {
      tenantId: v.tenantId,
      storeId: v.storeId,
      sequenceNumber: BigInt(v.sequenceNumber),
      eventSigningHash: h(v.eventSigningHashHex),
      agentSignature: h(v.agentSignatureHex),
    });
    expect(hex(leaf)).toBe(v.expectedHex);
  });

  it.each(vectors.receipt.vectors)("receipt hash and sequencer signature $name", (v) => {
    const r = receiptHash(sha256, {
      tenantId: v.tenantId,
      storeId: v.storeId,
      eventId: v.eventId,
      sequenceNumber: BigInt(v.sequenceNumber),
      eventSigningHash: h(v.eventSigningHashHex),
    });
    expect(hex(r)).toBe(v.expectedHex);
    expectSignature(ed, v.signature, r);
  });

  it("the full signing test chains: payload → signing hash → signature → leaf and receipt", () => {
    const full = vectors.eventSigningHash.vectors.find((v) => v.name === "full_signing_test");
    const leafVector = vectors.leaf.vectors.find((v) => v.name === "full_signing_test_at_seq_1");
    const receiptVector = vectors.receipt.vectors.find((v) => v.name === "full_signing_test_at_seq_1");
    if (full?.payloadJson === undefined || full.signature === undefined || !leafVector || !receiptVector) {
      throw new Error("vector file lacks the full signing test");
    }
    const payloadHash = payloadPlainHash(sha256, JSON.parse(full.payloadJson));
    const signingHash = eventSigningHash(sha256, {
      ...eventFields(full.event),
      payloadPlainHash: payloadHash,
    });
    const signature = ed.createSigner(h(full.signature.seedHex))(signingHash);
    expect(hex(signature)).toBe(leafVector.agentSignatureHex);
    const leaf = leafHash(sha256, {
      tenantId: full.event.tenantId,
      storeId: full.event.storeId,
      sequenceNumber: 1n,
      eventSigningHash: signingHash,
      agentSignature: signature,
    });
    expect(hex(leaf)).toBe(leafVector.expectedHex);
    const receipt = receiptHash(sha256, { ...full.event, sequenceNumber: 1n, eventSigningHash: signingHash });
    expect(hex(receipt)).toBe(receiptVector.expectedHex);
  });

  it.each(vectors.streamId.vectors)("stream_id $tenantId/$storeId", (v) => {
    expect(hex(streamId(sha256, v.tenantId, v.storeId))).toBe(v.expectedHex);
  });

  it("state root chain r1 → r2", () => {
    const c = vectors.stateChain;
    const m = sha256(utf8(c.merkleRootPreimageAscii));
    expect(hex(m).startsWith(c.merkleRootHexPrefix)).toBe(true);
    expect(hex(m).endsWith(c.merkleRootHexSuffix)).toBe(true);
    const sid = streamId(sha256, c.tenantId, c.storeId);
    let prev: Uint8Array = ZERO32;
    for (const step of c.steps) {
      const root = nextStateRoot(sha256, {
        streamId: sid,
        prevStateRoot: step.prevStateRoot === "zero" ? ZERO32 : prev,
        merkleRoot: m,
        sequenceStart: BigInt(step.sequenceStart),
        sequenceEnd: BigInt(step.sequenceEnd),
        leafCount: step.leafCount,
      });
      expect(hex(root), step.name).toBe(step.expectedHex);
      prev = root;
    }
  });

  it.each(vectors.merkleNode.vectors)("node(a, b)", (v) => {
    expect(hex(nodeHash(sha256, h(v.leftHex), h(v.rightHex)))).toBe(v.expectedHex);
  });

  it.each(vectors.merkleRoots.vectors)("Merkle root and proofs: $name", (v) => {
    const leaves = v.leavesHex.map(h);
    const tree = buildMerkleTree(sha256, leaves);
    expect(hex(tree.root)).toBe(v.rootHex);
    expect(tree.depth).toBe(v.depth);
    expect(tree.leafCount).toBe(leaves.length);
    for (const p of v.proofs) {
      expect(inclusionProof(tree, p.leafIndex).map(hex)).toEqual(p.siblingsHex);
      const args = {
        leafHash: leaves[p.leafIndex] as Uint8Array,
        leafIndex: p.leafIndex,
        siblings: p.siblingsHex.map(h),
        root: h(v.rootHex),
      };
      expect(verifyInclusionProof(sha256, args)).toBe(true);
      expect(verifyInclusionProof(sha256, { ...args, leafCount: leaves.length })).toBe(true);
    }
  });

  it("encrypted event: AAD, AES-GCM, recipients, cipher hash, signing hash, signature", () => {
    const v = vectors.encryptedEvent;
    const e = v.event;
    const payload = JSON.parse(v.payloadJson) as unknown;
    const salt = h(v.saltHex);
    const plainHash = payloadPlainHashSalted(sha256, salt, payload);
    expect(hex(plainHash)).toBe(v.expectedPayloadPlainHashHex);

    const aadFields = { ...e, payloadPlainHash: plainHash };
    const aad = payloadAad(sha256, aadFields);
    expect(hex(aad)).toBe(v.expectedPayloadAadHex);
    // The VES_SPEC form adds U32(ves_version) after the domain; it must give the other, unused value.
    const docForm = sha256(
      concatBytes(
        domains.DOMAIN_PAYLOAD_AAD,
        u32be(e.vesVersion),
        uuidToBytes(e.tenantId),
        uuidToBytes(e.storeId),
        uuidToBytes(e.eventId),
        uuidToBytes(e.sourceAgentId),
        u32be(e.agentKeyId),
        encStr(e.entityType),
        encStr(e.entityId),
        encStr(e.eventType),
        encStr(e.createdAt),
        plainHash,
      ),
    );
    expect(hex(docForm).startsWith(v.wrongDocFormAadHexPrefix)).toBe(true);
    expect(hex(docForm).endsWith(v.wrongDocFormAadHexSuffix)).toBe(true);

    const plaintext = concatBytes(salt, utf8(canonicalJson(payload)));
    expect(plaintext).toHaveLength(v.plaintextLength);
    const [ciphertext, tag] = aesGcm(h(v.dekHex), h(v.nonceHex), aad, plaintext);
    expect(hex(ciphertext)).toBe(v.expectedCiphertextHex);
    expect(hex(tag)).toBe(v.expectedTagHex);

    const recipients = v.recipients.map((r) => ({
      recipientKid: r.recipientKid,
      enc: h(r.encHex),
      ct: h(r.ctHex),
    }));
    const rh = recipientsHash(sha256, recipients);
    expect(hex(rh)).toBe(v.expectedRecipientsHashHex);

    const cipherHash = payloadCipherHash(sha256, {
      nonce: h(v.nonceHex),
      payloadAad: aad,
      ciphertext,
      tag,
      recipientsHash: rh,
    });
    expect(hex(cipherHash)).toBe(v.expectedPayloadCipherHashHex);
    expect(hex(cipherHash)).toBe(e.payloadCipherHashHex);

    const signingHash = eventSigningHash(sha256, {
      ...eventFields(e),
      payloadPlainHash: plainHash,
      payloadCipherHash: cipherHash,
    });
    expect(hex(signingHash)).toBe(v.expectedEventSigningHashHex);
    expectSignature(ed, v.signature, signingHash);
  });

  it.each(vectors.policyHash.vectors)("policy hash $policyId", (v) => {
    expect(hex(policyHash(sha256, v.policyId, JSON.parse(v.policyParamsJson)))).toBe(v.expectedHex);
  });

  it.each(vectors.publicInputsHash.vectors)("public_inputs_hash $name", (v) => {
    expect(hex(publicInputsHash(sha256, v.inputs))).toBe(v.expectedHex);
    // Rebuild the canonical inputs (§6) from the constructions, not from the file's copy.
    const full = vectors.eventSigningHash.vectors.find((x) => x.name === "full_signing_test");
    if (full?.payloadJson === undefined) throw new Error("vector file lacks the full signing test");
    const plainHash = payloadPlainHash(sha256, JSON.parse(full.payloadJson));
    const signingHash = eventSigningHash(sha256, { ...eventFields(full.event), payloadPlainHash: plainHash });
    const policyParams = { threshold: 10000 };
    const inputs = {
      eventId: full.event.eventId,
      tenantId: full.event.tenantId,
      storeId: full.event.storeId,
      sequenceNumber: 1,
      payloadKind: 0,
      payloadPlainHash: hex(plainHash),
      payloadCipherHash: hex(ZERO32),
      eventSigningHash: hex(signingHash),
      policyId: "aml.threshold",
      policyParams,
      policyHash: hex(policyHash(sha256, "aml.threshold", policyParams)),
    };
    expect(inputs).toEqual(v.inputs);
    expect(hex(publicInputsHash(sha256, inputs))).toBe(v.expectedHex);
  });

  it.each(vectors.proofHash.vectors)("$kind proof hash", (v) => {
    const f = v.kind === "validity" ? validityProofHash : complianceProofHash;
    expect(hex(f(sha256, utf8(v.proofAscii)))).toBe(v.expectedHex);
  });

  it.each(vectors.proofOfPossession.vectors)("proof-of-possession challenge and signature", (v) => {
    const challenge = popChallenge(sha256, h(v.publicKeyHex));
    expect(hex(challenge)).toBe(v.expectedChallengeHex);
    expectSignature(ed, v.signature, challenge);
    expect(ed.verify(h(v.signature.expectedHex), challenge, h(v.publicKeyHex))).toBe(true);
  });

  it.each(vectors.rfc8032.vectors)("RFC 8032 $name", (v) => {
    const seed = h(v.seedHex);
    const message = h(v.messageHex);
    expect(hex(ed.getPublicKey(seed))).toBe(v.publicKeyHex);
    expect(hex(ed.createSigner(seed)(message))).toBe(v.signatureHex);
    expect(ed.verify(h(v.signatureHex), message, h(v.publicKeyHex))).toBe(true);
    expect(ed.verify(h(v.signatureHex), concatBytes(message, new Uint8Array([0])), h(v.publicKeyHex))).toBe(
      false,
    );
  });

  it.each(vectors.legacyCommitmentLeafV1.vectors)(
    "legacy commitment leaf v1 (not ported; preimage built here)",
    (v) => {
      const leaf = sha256(
        concatBytes(
          utf8("STATESET_COMMITMENT_LEAF_V1"),
          uuidToBytes(v.tenantId),
          uuidToBytes(v.storeId),
          u64be(BigInt(v.sequenceNumber)),
          h(v.payloadHashHex),
          encStr(v.entityType),
          encStr(v.entityId),
        ),
      );
      expect(hex(leaf)).toBe(v.expectedHex);
    },
  );

  it.each(vectors.atRestAad.vectors)("at-rest AAD (server-side; preimage built here)", (v) => {
    const aad = sha256(
      concatBytes(
        utf8("STATESET_PAYLOAD_ATREST_AAD_V1"),
        uuidToBytes(v.tenantId),
        uuidToBytes(v.storeId),
        uuidToBytes(v.eventId),
        u64be(BigInt(v.sequenceNumber)),
        encStr(v.entityType),
        encStr(v.entityId),
        encStr(v.eventType),
      ),
    );
    expect(hex(aad)).toBe(v.expectedHex);
  });
});
