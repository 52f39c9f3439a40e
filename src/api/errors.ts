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
  if (err instanceof ConnectError) return err;
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
    });
    return new ConnectError(err.message, code, undefined, [{ desc: ErrorDetailSchema, value: detail }], err);
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
