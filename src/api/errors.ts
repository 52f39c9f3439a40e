// Maps every failure to a Connect/gRPC code in one place. Domain errors keep their message and details;
// anything unrecognised becomes Internal "internal error", logged with the request id, never sent.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { ErrorDetailSchema } from "../../gen/ves/sequencer/v1/error_detail_pb.js";
import { DomainError, type DomainErrorReason } from "../domain/errors.js";

const CODES: Record<DomainErrorReason, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  out_of_range: Code.OutOfRange,
  resource_exhausted: Code.ResourceExhausted,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  unavailable: Code.Unavailable,
  aborted: Code.Aborted,
  data_loss: Code.DataLoss,
};

/** "invalid_argument"-style name of a code, for BatchError.code. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

export function toConnectError(err: unknown, log: Logger, requestId: string): ConnectError {
  if (err instanceof ConnectError) {
    // connect-es reports a request it cannot decode as Internal; it is the client's bad input.
    if (err.code === Code.Internal && err.rawMessage.startsWith("parse binary:")) {
      return new ConnectError(
        `request message expected protobuf binary of its RPC's request type, got undecodable bytes (${err.rawMessage.slice(14)})`,
        Code.InvalidArgument,
        undefined,
        [
          {
            desc: ErrorDetailSchema,
            value: create(ErrorDetailSchema, { reason: "invalid_argument", requestId }),
          },
        ],
        err,
      );
    }
    return err;
  }
  if (err instanceof DomainError) {
    const code = CODES[err.reason];
    if (code === Code.Unavailable || code === Code.Aborted) log.warn({ err, requestId }, err.message);
    if (code === Code.DataLoss) log.error({ err, requestId }, err.message);
    const detail = create(ErrorDetailSchema, {
      reason: err.reason,
      field: err.field ?? "",
      expected: err.expected ?? "",
      actual: err.actual ?? "",
      requestId,
      retryAfterMs: err.retryAfterMs === undefined ? 0n : BigInt(err.retryAfterMs),
    });
    // A header for unary Connect errors, a trailer for gRPC: where clients look for it.
    const metadata =
      err.retryAfterMs === undefined
        ? undefined
        : { "retry-after": String(Math.ceil(err.retryAfterMs / 1000)) };
    return new ConnectError(err.message, code, metadata, [{ desc: ErrorDetailSchema, value: detail }], err);
  }
  log.error({ err, requestId }, "internal error");
  const detail = create(ErrorDetailSchema, { reason: "internal", requestId });
  return new ConnectError(
    "internal error",
    Code.Internal,
    undefined,
    [{ desc: ErrorDetailSchema, value: detail }],
    err,
  );
}

const HTTP_STATUS: Partial<Record<DomainErrorReason, number>> = {
  unauthenticated: 401,
  permission_denied: 403,
  resource_exhausted: 429,
  invalid_argument: 400,
  not_found: 404,
  unavailable: 503,
};

/** The HTTP answer for a failure on a plain HTTP route: status, headers and a small JSON body. */
export function httpErrorOf(
  err: unknown,
  log: Logger,
  requestId: string,
): { status: number; headers: Record<string, string>; body: string } {
  if (!(err instanceof DomainError)) {
    log.error({ err, requestId }, "internal error");
    return {
      status: 500,
      headers: { "content-type": "application/json" },
      body: `${JSON.stringify({ code: "internal", message: "internal error", request_id: requestId })}\n`,
    };
  }
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (err.reason === "unauthenticated") headers["www-authenticate"] = 'Bearer, ApiKey realm="ves-sequencer"';
  if (err.retryAfterMs !== undefined) headers["retry-after"] = String(Math.ceil(err.retryAfterMs / 1000));
  const body = {
    code: err.reason,
    message: err.message,
    field: err.field ?? "",
    request_id: requestId,
    ...(err.retryAfterMs === undefined ? {} : { retry_after_ms: err.retryAfterMs }),
  };
  return { status: HTTP_STATUS[err.reason] ?? 500, headers, body: `${JSON.stringify(body)}\n` };
}
