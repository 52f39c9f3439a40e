// connect-es decodes a unary request before any interceptor runs, and answers bytes that are not the request's
// protobuf message INTERNAL "parse binary: …" (streaming requests are decoded later, inside the interceptors,
// where errors.ts already maps it). This wraps each unary handler of a router and rewrites that one answer, on
// the gRPC, gRPC-Web and Connect protocols, into the INVALID_ARGUMENT the rest of the API gives for bad input.
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { createAsyncIterable, encodeEnvelope } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

/** Maps a failure of `method` to its answer (interceptors.ts rpcFailure: mapped, counted, logged). */
export type FailureMapper = (method: string) => (err: unknown) => ConnectError;

function isDecodeFailure(err: ConnectError | undefined): err is ConnectError {
  return err !== undefined && err.code === Code.Internal && err.rawMessage.startsWith("parse binary:");
}

async function readAll(body: AsyncIterable<Uint8Array> | Uint8Array | undefined): Promise<Uint8Array> {
  if (body === undefined) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

/** gRPC: the status is in the trailers, complete once the body has been written. */
function mapGrpc(
  res: UniversalServerResponse,
  fail: (err: unknown) => ConnectError,
): UniversalServerResponse {
  const trailer = res.trailer;
  if (!(trailer instanceof Headers)) return res;
  const fix = (): void => {
    const err = findTrailerError(trailer);
    if (isDecodeFailure(err)) setTrailerStatus(trailer, fail(err));
  };
  const body = res.body;
  if (body === undefined || body instanceof Uint8Array) {
    fix();
    return res;
  }
  return {
    ...res,
    body: (async function* () {
      yield* body;
      fix();
    })(),
  };
}

/** gRPC-Web: the status is a trailer envelope in the body; a request that failed to decode has nothing else. */
function mapGrpcWeb(
  res: UniversalServerResponse,
  fail: (err: unknown) => ConnectError,
): UniversalServerResponse {
  const body = res.body;
  if (body === undefined || body instanceof Uint8Array) return res;
  const fix = (chunk: Uint8Array): Uint8Array => {
    if (chunk.length < 5 || chunk[0] !== trailerFlag) return chunk;
    const length = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(1);
    if (length !== chunk.length - 5) return chunk;
    const err = findTrailerError(trailerParse(chunk.subarray(5)));
    if (!isDecodeFailure(err)) return chunk;
    const trailer = new Headers();
    setTrailerStatus(trailer, fail(err));
    return encodeEnvelope(trailerFlag, trailerSerialize(trailer));
  };
  return {
    ...res,
    body: (async function* () {
      let first = true;
      for await (const chunk of body) {
        yield first ? fix(chunk) : chunk;
        first = false;
      }
    })(),
  };
}

/** Connect unary: the error is the JSON body of an HTTP 500. */
async function mapConnect(
  res: UniversalServerResponse,
  fail: (err: unknown) => ConnectError,
): Promise<UniversalServerResponse> {
  if (res.status !== 500) return res;
  const bytes = await readAll(res.body);
  let err: ConnectError | undefined;
  try {
    err = errorFromJsonBytes(bytes, undefined, new ConnectError("", Code.Unknown));
  } catch {
    err = undefined;
  }
  if (!isDecodeFailure(err)) return { ...res, body: createAsyncIterable([bytes]) };
  const mapped = fail(err);
  const body = errorToJsonBytes(mapped, {});
  const header = new Headers(res.header);
  header.set("content-length", String(body.byteLength));
  return { ...res, status: codeToHttpStatus(mapped.code), header, body: createAsyncIterable([body]) };
}

function wrap(handler: UniversalHandler, mapper: FailureMapper): UniversalHandler {
  const fail = (err: unknown): ConnectError => mapper(handler.method.name)(err);
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const res = await handler(req);
    const type = req.header.get("content-type") ?? "";
    if (type.startsWith("application/grpc-web")) return mapGrpcWeb(res, fail);
    if (type.startsWith("application/grpc")) return mapGrpc(res, fail);
    if (handler.protocolNames.includes("connect")) return mapConnect(res, fail);
    return res;
  };
  return Object.assign(wrapped, handler);
}

/** Routes whose unary handlers answer undecodable requests INVALID_ARGUMENT (register services in `routes`). */
export function mapDecodeFailures(
  mapper: FailureMapper,
  routes: (router: ConnectRouter) => void,
): (router: ConnectRouter) => void {
  return (router) => {
    routes(router);
    for (const [i, h] of router.handlers.entries()) {
      if (h.method.methodKind === "unary") router.handlers[i] = wrap(h, mapper);
    }
  };
}
