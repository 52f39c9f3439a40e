// Maps PostgreSQL and connection failures to domain errors by SQLSTATE, walking the cause chain
// (after connect-node's node-error.ts). Anything unrecognised is returned unchanged and becomes Internal.
import { DomainError } from "../../domain/errors.js";

interface PgLikeError {
  code?: unknown;
  constraint_name?: unknown;
  message?: unknown;
  cause?: unknown;
}

function findCode(err: unknown): { code: string; constraint: string | undefined } | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === "object" && depth < 8; depth++) {
    const pg = e as PgLikeError;
    if (typeof pg.code === "string") {
      return {
        code: pg.code,
        constraint: typeof pg.constraint_name === "string" ? pg.constraint_name : undefined,
      };
    }
    e = pg.cause;
  }
  return undefined;
}

// Node socket errors and postgres.js's own connection errors: the database could not be reached or the
// connection was lost mid-call. Whether a lost call committed is unknown to the server too; the client retries
// (a resent batch is answered with replayed receipts, never sequenced twice).
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** A DomainError for failures a client can act on (retry, back off); the input otherwise. */
export function mapPgError(err: unknown): unknown {
  if (err instanceof DomainError) return err;
  const found = findCode(err);
  if (found === undefined) return err;
  const { code } = found;
  // 40001 serialization_failure, 40P01 deadlock_detected, 23505 unique_violation (a concurrent writer won).
  if (code === "40001" || code === "40P01" || code === "23505") {
    return new DomainError("aborted", "a concurrent transaction conflicted with this one; retry", {
      cause: err,
    });
  }
  // Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now), 53300
  // (too many connections), 25006 (read-only transaction: connected to a standby, e.g. during a failover).
  if (
    code.startsWith("08") ||
    code === "57P01" ||
    code === "57P02" ||
    code === "57P03" ||
    code === "53300" ||
    code === "25006"
  ) {
    return new DomainError("unavailable", "the database is unavailable; retry later", { cause: err });
  }
  if (CONNECTION_CODES.has(code)) {
    return new DomainError("unavailable", "the database is unavailable; retry later", { cause: err });
  }
  if (code === "57014")
    return new DomainError("aborted", "the database cancelled the statement", { cause: err });
  return err;
}
