// Per-event rejections: the reasons of docs/protocol.md §1.2 and §4, as data rather than failed calls.

export type RejectionReason =
  | "invalid_format"
  | "unsupported_version"
  | "invalid_payload_hash"
  | "invalid_cipher_hash"
  | "unknown_key"
  | "key_revoked"
  | "key_not_yet_valid"
  | "key_expired"
  | "unsupported_signature_scheme"
  | "invalid_signature"
  | "duplicate_event_id"
  | "event_id_conflict"
  | "duplicate_command_id"
  | "version_conflict";

export interface Rejection {
  readonly reason: RejectionReason;
  /** The upstream VES reason string (REST `rejections[].reason`). */
  readonly code: string;
  readonly message: string;
  readonly field?: string | undefined;
  readonly expected?: string | undefined;
  readonly actual?: string | undefined;
}

// The reference's REST `rejections[].reason` strings (ves-protocol.md §1.2). It has no "invalid_format":
// its per-event format checks answer `schema_validation: <field>` (see rejectField), and a signature scheme
// its security profile refuses answers `invalid_signature`.
const UPSTREAM_CODES: Record<RejectionReason, string> = {
  invalid_format: "schema_validation",
  unsupported_version: "unsupported_version",
  invalid_payload_hash: "invalid_payload_hash",
  invalid_cipher_hash: "invalid_cipher_hash",
  unknown_key: "agent_key_invalid",
  key_revoked: "agent_key_invalid",
  key_not_yet_valid: "agent_key_invalid",
  key_expired: "agent_key_invalid",
  unsupported_signature_scheme: "invalid_signature",
  invalid_signature: "invalid_signature",
  duplicate_event_id: "duplicate_event_id",
  event_id_conflict: "duplicate_event_id",
  duplicate_command_id: "duplicate_command_id",
  version_conflict: "version_conflict",
};

/** The reference's reason string: `schema_validation: <field>`, `version_conflict: expected X, actual Y`. */
function upstreamCode(reason: RejectionReason, field?: string, expected?: string, actual?: string): string {
  const code = UPSTREAM_CODES[reason];
  if (reason === "invalid_format" && field !== undefined) return `${code}: ${field}`;
  if (reason === "version_conflict") return `${code}: expected ${expected}, actual ${actual}`;
  return code;
}

export function reject(
  reason: RejectionReason,
  message: string,
  details: { field?: string; expected?: string; actual?: string } = {},
): Rejection {
  const code = upstreamCode(reason, details.field, details.expected, details.actual);
  return { reason, code, message, ...details };
}

/**
 * An invalid_format rejection in the house message form: `"field" expected X, got Y`; its upstream code is
 * `schema_validation: <field>`.
 */
export function rejectField(field: string, expected: string, actual: string): Rejection {
  return reject("invalid_format", `"${field}" expected ${expected}, got ${actual}`, {
    field,
    expected,
    actual,
  });
}
