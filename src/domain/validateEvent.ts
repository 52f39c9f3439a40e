// Static checks of one VES event, in the order of docs/protocol.md §1.2 steps 1-6 (the payload-hash step for
// plaintext events runs later, off the event loop, with the signature check).
import { equalBytes, isUuid, utf8ByteLength, ZERO32 } from "../crypto/bytes.js";
import { payloadAad, payloadCipherHash, recipientsHash } from "../crypto/encryptedPayload.js";
import type { Sha256 } from "../crypto/sha256.js";
import { DB_BIGINT_MAX, DB_TEXT_EXPECTED, dbTextProblem } from "./dbDomain.js";
import { showValue } from "./errors.js";
import type { CheckedEvent, EncryptedPayloadInput, EventInput } from "./event.js";
import type { Limits } from "./limits.js";
import { MAX_CREATED_AT_BYTES, STRING_LIMITS } from "./limits.js";
import { type Rejection, reject, rejectField } from "./rejection.js";
import { isRfc3339 } from "./rfc3339.js";

export type CheckResult =
  | { readonly ok: true; readonly event: CheckedEvent }
  | { readonly ok: false; readonly rejection: Rejection };

const fail = (rejection: Rejection): CheckResult => ({ ok: false, rejection });

function checkUuid(field: string, value: string): Rejection | undefined {
  return isUuid(value) ? undefined : rejectField(field, "a UUID (8-4-4-4-12 hex)", showValue(value));
}

/** A signed string field: 1..max UTF-8 bytes of text PostgreSQL can hold (no U+0000, no lone surrogate). */
function checkLength(field: keyof typeof STRING_LIMITS, value: string): Rejection | undefined {
  const n = utf8ByteLength(value);
  const max = STRING_LIMITS[field];
  if (n < 1 || n > max) return rejectField(field, `1..${max} UTF-8 bytes`, `${n}`);
  const problem = dbTextProblem(value);
  return problem === undefined ? undefined : rejectField(field, DB_TEXT_EXPECTED, problem);
}

function checkHashLength(field: string, value: Uint8Array, allowEmpty: boolean): Rejection | undefined {
  if (value.length === 32 || (allowEmpty && value.length === 0)) return undefined;
  return rejectField(field, allowEmpty ? "32 bytes (or empty)" : "32 bytes", `${value.length} bytes`);
}

const SUPPORTED_HPKE = { mode: "base", kem: "X25519-HKDF-SHA256", kdf: "HKDF-SHA256", aead: "AES-256-GCM" };

function checkEncrypted(p: EncryptedPayloadInput, limits: Limits): Rejection | undefined {
  const f = "payload_encrypted";
  if (p.encVersion !== 0 && p.encVersion !== 1)
    return rejectField(`${f}.enc_version`, "1", `${p.encVersion}`);
  if (p.aead !== "AES-256-GCM") return rejectField(`${f}.aead`, '"AES-256-GCM"', showValue(p.aead));
  for (const k of ["mode", "kem", "kdf", "aead"] as const) {
    if (p.hpke[k] !== SUPPORTED_HPKE[k]) {
      return rejectField(`${f}.hpke.${k}`, JSON.stringify(SUPPORTED_HPKE[k]), showValue(p.hpke[k]));
    }
  }
  if (p.nonce.length !== 12) return rejectField(`${f}.nonce`, "12 bytes", `${p.nonce.length} bytes`);
  if (p.ciphertext.length === 0) return rejectField(`${f}.ciphertext`, "at least 1 byte", "0 bytes");
  if (p.ciphertext.length > limits.maxPayloadBytes) {
    return rejectField(
      `${f}.ciphertext`,
      `at most ${limits.maxPayloadBytes} bytes`,
      `${p.ciphertext.length} bytes`,
    );
  }
  if (p.tag.length !== 16) return rejectField(`${f}.tag`, "16 bytes", `${p.tag.length} bytes`);
  if (p.recipients.length === 0) return rejectField(`${f}.recipients`, "at least one recipient", "none");
  let previousKid = -1;
  for (const [i, r] of p.recipients.entries()) {
    const rf = `${f}.recipients[${i}]`;
    if (r.recipientKid <= previousKid) {
      return rejectField(
        `${rf}.recipient_kid`,
        `strictly ascending kids (> ${previousKid})`,
        `${r.recipientKid}`,
      );
    }
    previousKid = r.recipientKid;
    if (r.enc.length !== 32) return rejectField(`${rf}.enc`, "32 bytes", `${r.enc.length} bytes`);
    if (r.ct.length !== 48) return rejectField(`${rf}.ct`, "48 bytes", `${r.ct.length} bytes`);
  }
  return undefined;
}

/**
 * Checks one event on its own: version, identifiers, string lengths, payload kind and shape, the encrypted
 * payload's structure and cipher hash, created_at, hash and signature lengths, signature scheme.
 * Tenant and store are checked for the whole batch by `checkBatch`.
 */
export function validateEvent(e: EventInput, index: number, limits: Limits, sha256: Sha256): CheckResult {
  const version = e.vesVersion === 0 ? 1 : e.vesVersion;
  if (version !== 1) {
    return fail(
      reject("unsupported_version", `"ves_version" expected 1, got ${e.vesVersion}`, {
        field: "ves_version",
        expected: "1",
        actual: `${e.vesVersion}`,
      }),
    );
  }
  const idProblem = checkUuid("event_id", e.eventId) ?? checkUuid("source_agent_id", e.sourceAgentId);
  if (idProblem) return fail(idProblem);
  const lengthProblem =
    checkLength("entity_type", e.entityType) ??
    checkLength("entity_id", e.entityId) ??
    checkLength("event_type", e.eventType);
  if (lengthProblem) return fail(lengthProblem);

  if (e.payloadKind !== 0 && e.payloadKind !== 1) {
    return fail(rejectField("payload_kind", "plaintext or encrypted", "unspecified"));
  }
  const plainLengthProblem = checkHashLength("payload_plain_hash", e.payloadPlainHash, e.payloadKind === 0);
  if (plainLengthProblem) return fail(plainLengthProblem);
  const cipherLengthProblem = checkHashLength("payload_cipher_hash", e.payloadCipherHash, true);
  if (cipherLengthProblem) return fail(cipherLengthProblem);

  if (e.payloadKind === 0) {
    if (e.payload.length === 0)
      return fail(rejectField("payload", "JSON text for a plaintext event", "nothing"));
    if (e.payload.length > limits.maxPayloadBytes) {
      return fail(
        rejectField("payload", `at most ${limits.maxPayloadBytes} bytes`, `${e.payload.length} bytes`),
      );
    }
    if (e.payloadEncrypted !== undefined) {
      return fail(rejectField("payload_encrypted", "absent for a plaintext event", "an encrypted payload"));
    }
    if (e.payloadCipherHash.length === 32 && !equalBytes(e.payloadCipherHash, ZERO32)) {
      return fail(
        rejectField("payload_cipher_hash", "32 zero bytes for a plaintext event", "non-zero bytes"),
      );
    }
  } else {
    if (e.payload.length !== 0) {
      return fail(rejectField("payload", "empty for an encrypted event", `${e.payload.length} bytes`));
    }
    if (e.payloadEncrypted === undefined) {
      return fail(rejectField("payload_encrypted", "an encrypted payload for an encrypted event", "nothing"));
    }
    const encProblem = checkEncrypted(e.payloadEncrypted, limits);
    if (encProblem) return fail(encProblem);
  }

  const createdAtBytes = utf8ByteLength(e.createdAt);
  if (createdAtBytes > MAX_CREATED_AT_BYTES) {
    return fail(
      rejectField(
        "created_at",
        `an RFC 3339 date-time of at most ${MAX_CREATED_AT_BYTES} UTF-8 bytes`,
        `${createdAtBytes} bytes`,
      ),
    );
  }
  if (!isRfc3339(e.createdAt)) {
    return fail(
      rejectField(
        "created_at",
        'an RFC 3339 date-time such as "2025-01-01T00:00:00Z"',
        showValue(e.createdAt),
      ),
    );
  }
  if (e.agentSignature.length !== 64) {
    return fail(rejectField("agent_signature", "64 bytes (Ed25519)", `${e.agentSignature.length} bytes`));
  }
  if (e.agentSignatureScheme !== 0 && e.agentSignatureScheme !== 1) {
    return fail(
      reject(
        "unsupported_signature_scheme",
        `"agent_signature_scheme" expected 0 or 1 (Ed25519), got ${e.agentSignatureScheme}`,
        { field: "agent_signature_scheme", expected: "0 or 1", actual: `${e.agentSignatureScheme}` },
      ),
    );
  }
  let commandId: string | undefined;
  if (e.commandId !== undefined && e.commandId !== "") {
    const problem = checkUuid("command_id", e.commandId);
    if (problem) return fail(problem);
    commandId = e.commandId.toLowerCase();
  }

  if (e.baseVersion !== undefined && e.baseVersion > DB_BIGINT_MAX) {
    return fail(rejectField("base_version", `at most ${DB_BIGINT_MAX} (2^63 - 1)`, `${e.baseVersion}`));
  }

  const eventId = e.eventId.toLowerCase();
  const tenantId = e.tenantId.toLowerCase();
  const storeId = e.storeId.toLowerCase();
  const sourceAgentId = e.sourceAgentId.toLowerCase();
  let cipherHash: Uint8Array = ZERO32;
  if (e.payloadKind === 1 && e.payloadEncrypted !== undefined) {
    // docs/protocol.md §2.2: the cipher hash binds nonce, AAD, ciphertext, tag and recipients.
    const p = e.payloadEncrypted;
    const aad = payloadAad(sha256, {
      tenantId,
      storeId,
      eventId,
      sourceAgentId,
      agentKeyId: e.agentKeyId,
      entityType: e.entityType,
      entityId: e.entityId,
      eventType: e.eventType,
      createdAt: e.createdAt,
      payloadPlainHash: e.payloadPlainHash,
    });
    cipherHash = payloadCipherHash(sha256, {
      nonce: p.nonce,
      payloadAad: aad,
      ciphertext: p.ciphertext,
      tag: p.tag,
      recipientsHash: recipientsHash(sha256, p.recipients),
    });
    if (e.payloadCipherHash.length === 32 && !equalBytes(e.payloadCipherHash, cipherHash)) {
      return fail(
        reject("invalid_cipher_hash", '"payload_cipher_hash" does not match the encrypted payload', {
          field: "payload_cipher_hash",
        }),
      );
    }
  }

  return {
    ok: true,
    event: {
      index,
      vesVersion: 1,
      eventId,
      tenantId,
      storeId,
      sourceAgentId,
      agentKeyId: e.agentKeyId,
      entityType: e.entityType,
      entityId: e.entityId,
      eventType: e.eventType,
      createdAt: e.createdAt,
      payloadKind: e.payloadKind,
      payload: e.payloadKind === 0 ? e.payload : undefined,
      payloadEncrypted: e.payloadEncrypted,
      payloadPlainHash: e.payloadPlainHash.length === 32 ? e.payloadPlainHash : undefined,
      payloadCipherHash: cipherHash,
      agentSignature: e.agentSignature,
      agentSignatureScheme: e.agentSignatureScheme,
      commandId,
      baseVersion: e.baseVersion,
    },
  };
}
