// Agent SDK: the one error type of the producer and the reader, with a machine-readable reason (style.md, Errors).
import type { RejectionReason } from "../domain/rejection.js";

/**
 * Why an append or a read failed:
 * - `rejected`: the sequencer rejected the event (`rejection` says why: invalid_signature, version_conflict, ...);
 * - `batch_refused`: the sequencer refused the event's whole batch (`code`, `field`);
 * - `bad_receipt`: the receipt (or sealed proof) did not verify against the pinned sequencer key, or was not for
 *   this event: the server is not trusted, the event is not reported as appended; on an `anchored` promise: the
 *   anchor did not verify (`code` names the check, e.g. merkle_root_mismatch, block_mismatch, not_anchored);
 * - `bad_event`: a delivered event did not verify (payload hash, agent signature, receipt); it is not delivered;
 * - `unauthenticated` / `permission_denied`: the credential was refused; the agent stops;
 * - `unavailable`: the sequencer stayed unreachable past the agent's reconnect limit (or a `sealed`/`anchored`
 *   promise timed out, or the sequencer does not anchor);
 * - `closed`: the agent was closed before the event was sent;
 * - `invalid_argument`: the caller passed something malformed.
 */
export type AgentErrorReason =
  | "rejected"
  | "batch_refused"
  | "bad_receipt"
  | "bad_event"
  | "unauthenticated"
  | "permission_denied"
  | "unavailable"
  | "closed"
  | "invalid_argument";

export interface AgentErrorDetails {
  readonly eventId?: string | undefined;
  /** For `rejected`: the sequencer's reason, e.g. "version_conflict". */
  readonly rejection?: RejectionReason | undefined;
  /** The gRPC code name ("invalid_argument", "permission_denied", ...) or the verdict's reason. */
  readonly code?: string | undefined;
  readonly field?: string | undefined;
  readonly expected?: string | undefined;
  readonly actual?: string | undefined;
  readonly cause?: unknown;
}

export class AgentError extends Error {
  override readonly name = "AgentError";
  readonly reason: AgentErrorReason;
  readonly eventId: string | undefined;
  readonly rejection: RejectionReason | undefined;
  readonly code: string | undefined;
  readonly field: string | undefined;
  readonly expected: string | undefined;
  readonly actual: string | undefined;

  constructor(reason: AgentErrorReason, message: string, details: AgentErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.eventId = details.eventId;
    this.rejection = details.rejection;
    this.code = details.code;
    this.field = details.field;
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** True for an AgentError, optionally of one reason. */
export function isAgentError(err: unknown, reason?: AgentErrorReason): err is AgentError {
  return err instanceof AgentError && (reason === undefined || err.reason === reason);
}
