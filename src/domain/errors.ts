// Domain errors: typed, with a machine-readable reason, the offending field and what was expected.

/** Why a request failed as a whole. The api layer maps each reason to one transport code. */
export type DomainErrorReason =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "out_of_range"
  | "resource_exhausted"
  | "permission_denied"
  | "unauthenticated"
  | "unavailable"
  | "aborted"
  | "data_loss";

export interface DomainErrorDetails {
  field?: string | undefined;
  expected?: string | undefined;
  actual?: string | undefined;
  /** With "resource_exhausted" from a rate limit: how long to wait before retrying. */
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** The one error class of domain and app code. `message` is safe to send to clients. */
export class DomainError extends Error {
  override readonly name = "DomainError";
  readonly reason: DomainErrorReason;
  readonly field: string | undefined;
  readonly expected: string | undefined;
  readonly actual: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(reason: DomainErrorReason, message: string, details: DomainErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.field = details.field;
    this.expected = details.expected;
    this.actual = details.actual;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** `"field" expected <expected>, got <actual>` as an invalid_argument error. */
export function invalidField(field: string, expected: string, actual: string): DomainError {
  return new DomainError("invalid_argument", `"${field}" expected ${expected}, got ${actual}`, {
    field,
    expected,
    actual,
  });
}

/** Shows a client-supplied value in a message: quoted, and cut short when long. */
export function showValue(value: string, max = 80): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut);
}
