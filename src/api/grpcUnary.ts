// A lean path for hot unary RPCs over gRPC (HTTP/2, application/grpc[+proto], identity encoding): the proof and
// verification calls internal services make one at a time. connect-node's generic handler costs about 300 µs of
// CPU per call on this machine (web Headers, linked AbortSignals, async-iterable pipelines), several times the
// work of the RPC itself. This path reads the one length-prefixed message, runs the same access gate, request
// checks, service code and error mapping as the connect handler (interceptors.ts, requestDomain.ts, errors.ts)
// and writes the response and the trailers with connect's own trailer encoding. Every other request (Connect,
// gRPC-Web, JSON, compressed, streaming, other methods) goes to connect unchanged.
import { randomUUID } from "node:crypto";
import type http2 from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { context, type Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import { DomainError } from "../domain/errors.js";
import type { AuthGate } from "./authGate.js";
import { presentedCredential } from "./credentials.js";
import { rpcFailure } from "./interceptors.js";
import type { Metrics } from "./metrics.js";
import { methodKey, type Policy } from "./policies.js";
import { checkRequestDomain } from "./requestDomain.js";
import { endRpcSpan, type RpcSpan, requestTenant, startRpcSpan } from "./tracing.js";

/** A unary handler that needs only its request (no HandlerContext): the kind this path can serve. */
export type UnaryFn<I extends DescMessage, O extends DescMessage> = (
  req: MessageShape<I>,
) => Promise<MessageInitShape<O>>;

/** A service implementation whose every method is a context-free unary handler. */
export type ContextFreeServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethodUnary<infer I, infer O> ? UnaryFn<I, O> : never;
};

export interface FastUnaryRoute {
  readonly method: DescMethodUnary;
  readonly fn: UnaryFn<DescMessage, DescMessage>;
}

/** Every method of `service`, served by `impl`. */
export function unaryRoutes<S extends DescService>(
  service: S,
  impl: ContextFreeServiceImpl<S>,
): FastUnaryRoute[] {
  return service.methods.map((method) => {
    if (method.methodKind !== "unary") throw new Error(`${method.name} is not unary`);
    const fn = (impl as unknown as Record<string, UnaryFn<DescMessage, DescMessage>>)[method.localName];
    if (fn === undefined) throw new Error(`no implementation for ${method.name}`);
    return { method: method as DescMethodUnary, fn };
  });
}

export interface GrpcUnaryOptions {
  readonly gate: AuthGate;
  readonly policies: ReadonlyMap<string, Policy>;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Largest request message, as connect's readMaxBytes. */
  readonly readMaxBytes: number;
  /** Unset: calls are not traced (tracing.ts). */
  readonly tracer?: Tracer | undefined;
}

/** Answers and returns true for a gRPC unary call of one of `routes`; returns false to leave it to connect. */
export type GrpcUnaryHandler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => boolean;

const PREFIX = 5;

export function createGrpcUnaryHandler(routes: FastUnaryRoute[], opts: GrpcUnaryOptions): GrpcUnaryHandler {
  const byPath = new Map(
    routes.map((r) => [methodKey(r.method), { ...r, key: methodKey(r.method), name: r.method.name }]),
  );
  return (req, res) => {
    if (req.method !== "POST") return false;
    const route = byPath.get(req.url);
    if (route === undefined) return false;
    const contentType = req.headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    const encoding = req.headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    serve(route, contentType, req, res, opts);
    return true;
  };
}

function serve(
  route: FastUnaryRoute & { key: string; name: string },
  contentType: string,
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
  opts: GrpcUnaryOptions,
): void {
  const requestId = randomUUID();
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const rpc: RpcSpan | undefined =
    opts.tracer === undefined
      ? undefined
      : startRpcSpan(opts.tracer, route.method, "grpc", {
          get: (name) => headerValue(req.headers[name]),
          keys: () => Object.keys(req.headers),
        });
  let tenantId: string | undefined;

  const finish = (body: Uint8Array | undefined, err: unknown): void => {
    if (finished) return;
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
    let trailers: Record<string, string> = { "grpc-status": "0" };
    let code: Code | 0 = 0;
    if (err === undefined) {
      opts.metrics.rpcs.inc({ method: route.name, code: "OK" });
    } else {
      const h = new Headers();
      const mapped = rpcFailure(opts.log, opts.metrics, route.name, requestId)(err);
      code = mapped.code;
      setTrailerStatus(h, mapped);
      trailers = Object.fromEntries(h);
    }
    if (rpc !== undefined) endRpcSpan(rpc.span, code, requestId, tenantId);
    if (res.destroyed || res.writableEnded) return; // the client went away
    res.writeHead(200, { "content-type": contentType });
    res.addTrailers(trailers);
    if (body === undefined) {
      res.end();
      return;
    }
    const frame = Buffer.allocUnsafe(PREFIX + body.length);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, PREFIX);
    res.end(frame);
  };

  const timeout = parseTimeout(headerValue(req.headers["grpc-timeout"]), Number.MAX_SAFE_INTEGER);
  if (timeout.error !== undefined) {
    finish(undefined, timeout.error);
    req.resume();
    return;
  }
  if (timeout.timeoutMs !== undefined) {
    timer = setTimeout(
      () =>
        finish(
          undefined,
          new ConnectError(`the deadline of ${timeout.timeoutMs} ms passed`, Code.DeadlineExceeded),
        ),
      timeout.timeoutMs,
    );
  }

  const limit = opts.readMaxBytes + PREFIX;
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > limit) {
      finish(
        undefined,
        new ConnectError(
          `request message larger than the limit of ${opts.readMaxBytes} bytes (MAX_MESSAGE_BYTES)`,
          Code.ResourceExhausted,
        ),
      );
      return;
    }
    chunks.push(chunk);
  });
  req.once("end", () => {
    if (finished) return;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
    let message: MessageShape<DescMessage>;
    try {
      message = decodeEnvelope(route.method, body);
    } catch (err) {
      finish(undefined, err);
      return;
    }
    if (rpc !== undefined) tenantId = requestTenant(message);
    const answer =
      rpc === undefined
        ? call(route, message, req.headers, opts)
        : context.with(rpc.ctx, () => call(route, message, req.headers, opts));
    answer.then(
      (out) => finish(out, undefined),
      (err: unknown) => finish(undefined, err),
    );
  });
}

async function call(
  route: FastUnaryRoute & { key: string },
  message: MessageShape<DescMessage>,
  headers: http2.IncomingHttpHeaders,
  opts: GrpcUnaryOptions,
): Promise<Uint8Array> {
  const presented = presentedCredential({ get: (name) => headerValue(headers[name]) });
  await opts.gate.admit(route.key, opts.policies.get(route.key), presented, message, false);
  checkRequestDomain(route.method.input, message);
  const out = await route.fn(message);
  return toBinary(route.method.output, create(route.method.output, out));
}

/** The one message of a gRPC unary request: a 5-byte prefix (flags, length) and the protobuf bytes. */
function decodeEnvelope(method: DescMethodUnary, body: Buffer): MessageShape<DescMessage> {
  if (body.length < PREFIX) {
    throw new DomainError(
      "invalid_argument",
      `request expected one gRPC length-prefixed message, got ${body.length} bytes`,
      { field: "message", expected: "a 5-byte prefix and the message", actual: `${body.length} bytes` },
    );
  }
  const flags = body[0] as number;
  const length = body.readUInt32BE(1);
  if (flags & 1) {
    throw new DomainError(
      "invalid_argument",
      "request message is flagged compressed but grpc-encoding is identity",
      {
        field: "message",
        expected: "an uncompressed message (flag 0)",
        actual: `flag ${flags}`,
      },
    );
  }
  if (length !== body.length - PREFIX) {
    throw new DomainError(
      "invalid_argument",
      `request expected exactly one message of ${length} bytes (its prefix), got ${body.length - PREFIX} bytes after the prefix`,
      { field: "message", expected: `${length} bytes`, actual: `${body.length - PREFIX} bytes` },
    );
  }
  try {
    return fromBinary(method.input, body.subarray(PREFIX));
  } catch (err) {
    throw new DomainError(
      "invalid_argument",
      `request message expected protobuf binary of its RPC's request type, got undecodable bytes (${(err as Error).message})`,
      { field: "message", expected: method.input.typeName, actual: `${length} undecodable bytes` },
    );
  }
}

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(", ") : v;
}
