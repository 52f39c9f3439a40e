// One OpenTelemetry span per RPC, on every transport (OpenTelemetry semantic conventions for RPC servers): the
// connect interceptor below for gRPC, gRPC-Web and Connect, and startRpcSpan/endRpcSpan for the lean gRPC unary
// path (grpcUnary.ts). Named "<package.Service>/<Method>", of kind SERVER, continuing the caller's trace when the
// request carries a W3C traceparent; with rpc.system, rpc.service, rpc.method, rpc.grpc.status_code (Connect's
// codes are gRPC's), ves.request_id and the tenant the call is about. Installed only when tracing is on.

import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { kPrincipal, kRequestId } from "./context.js";

/** Reads request headers for trace-context propagation. */
export interface HeaderSource {
  get(name: string): string | null;
  keys(): Iterable<string>;
}

const HEADERS: TextMapGetter<HeaderSource> = {
  get: (h, key) => h.get(key) ?? undefined,
  keys: (h) => [...h.keys()],
};

/** Codes that are the server's fault (the semantic conventions' error codes for gRPC servers). */
const SERVER_ERRORS: ReadonlySet<Code> = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

export interface RpcSpan {
  readonly span: Span;
  /** The span's context: the RPC's work runs in it, so its spans (a sequencing transaction) are children. */
  readonly ctx: Context;
}

/** `system`: "grpc" for gRPC and gRPC-Web, "connect_rpc" for the Connect protocol. */
export function startRpcSpan(
  tracer: Tracer,
  method: Pick<DescMethod, "name" | "parent">,
  system: "grpc" | "connect_rpc",
  headers: HeaderSource,
): RpcSpan {
  const parent = propagation.extract(ROOT_CONTEXT, headers, HEADERS);
  const service = method.parent.typeName;
  const span = tracer.startSpan(
    `${service}/${method.name}`,
    {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": system, "rpc.service": service, "rpc.method": method.name },
    },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Ends an RPC's span with its status code and, when known, its request id and tenant. */
export function endRpcSpan(
  span: Span,
  code: Code | 0,
  requestId: string | undefined,
  tenantId: string | undefined,
): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (requestId !== undefined && requestId !== "") span.setAttribute("ves.request_id", requestId);
  if (tenantId !== undefined && tenantId !== "") span.setAttribute("ves.tenant_id", tenantId);
  if (code !== 0 && SERVER_ERRORS.has(code)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: Code[code] ?? String(code) });
  }
  span.end();
}

/** The tenant a request is about: its tenant_id, or its first event's (AppendBatch); undefined if neither. */
export function requestTenant(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const m = message as { tenantId?: unknown; events?: readonly { tenantId?: unknown }[] };
  if (typeof m.tenantId === "string" && m.tenantId !== "") return m.tenantId;
  const first = Array.isArray(m.events) ? m.events[0]?.tenantId : undefined;
  return typeof first === "string" ? first : undefined;
}

function codeOf(err: unknown): Code {
  return ConnectError.from(err).code;
}

/**
 * A response stream read inside the RPC's context (every next() call: the service's generator runs there, and
 * with it the batches it sequences), ending the span when the stream ends, fails or is cancelled.
 */
async function* inContext<T>(
  messages: AsyncIterable<T>,
  ctx: Context,
  end: (code: Code | 0) => void,
): AsyncGenerator<T> {
  const it = messages[Symbol.asyncIterator]();
  let code: Code | 0 | undefined;
  try {
    for (;;) {
      const r = await context.with(ctx, () => it.next());
      if (r.done) {
        code = 0;
        return;
      }
      yield r.value;
    }
  } catch (err) {
    code = codeOf(err);
    throw err;
  } finally {
    if (code === undefined) {
      // The client went away: let the service's generator finish its cleanup, in its context.
      code = Code.Canceled;
      await context.with(ctx, async () => it.return?.()).catch(() => undefined);
    }
    end(code);
  }
}

/** Outermost interceptor: spans every RPC served by connect (errors are already mapped by the time it sees them). */
export function tracingInterceptor(tracer: Tracer): Interceptor {
  return (next) => async (req) => {
    const contentType = req.header.get("content-type") ?? "";
    const system = contentType.startsWith("application/grpc") ? "grpc" : "connect_rpc";
    const { span, ctx } = startRpcSpan(tracer, req.method, system, req.header);
    const requestTenantId = req.stream ? undefined : requestTenant(req.message);
    const end = (code: Code | 0): void =>
      endRpcSpan(
        span,
        code,
        req.contextValues.get(kRequestId),
        requestTenantId ?? req.contextValues.get(kPrincipal)?.tenantId,
      );
    try {
      const res = await context.with(ctx, () => next(req));
      if (!res.stream) {
        end(0);
        return res;
      }
      return { ...res, message: inContext(res.message, ctx, end) };
    } catch (err) {
      end(codeOf(err));
      throw err;
    }
  };
}
