// Interceptors applied to every RPC: request id, error mapping (unary and streaming), RPC log and metrics; then
// authentication and authorization.
import { randomUUID } from "node:crypto";
import { Code, type ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { AuthGate } from "./authGate.js";
import { kPrincipal, kRequestId } from "./context.js";
import { presentedCredential } from "./credentials.js";
import { toConnectError } from "./errors.js";
import type { Metrics } from "./metrics.js";
import { methodKey, type Policy } from "./policies.js";

async function* mapErrors<T>(it: AsyncIterable<T>, fail: (err: unknown) => ConnectError): AsyncGenerator<T> {
  try {
    yield* it;
  } catch (err) {
    throw fail(err);
  }
}

/** How an RPC's failure becomes its answer: mapped (errors.ts), counted in ves_rpcs_total and logged. */
export function rpcFailure(
  log: Logger,
  metrics: Metrics,
  method: string,
  requestId: string,
): (err: unknown) => ConnectError {
  return (err) => {
    const mapped = toConnectError(err, log, requestId);
    metrics.rpcs.inc({ method, code: Code[mapped.code] });
    log.debug({ requestId, method, code: Code[mapped.code], msg: mapped.rawMessage }, "rpc failed");
    return mapped;
  };
}

export function errorInterceptor(log: Logger, metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const requestId = randomUUID();
    req.contextValues.set(kRequestId, requestId);
    const method = req.method.name;
    const fail = rpcFailure(log, metrics, method, requestId);
    try {
      const res = await next(req);
      if (!res.stream) {
        metrics.rpcs.inc({ method, code: "OK" });
        return res;
      }
      metrics.openStreams.inc();
      const message = mapErrors(res.message, fail);
      return {
        ...res,
        message: (async function* () {
          try {
            yield* message;
            metrics.rpcs.inc({ method, code: "OK" });
          } finally {
            metrics.openStreams.dec();
          }
        })(),
      };
    } catch (err) {
      throw fail(err);
    }
  };
}

async function* guardMessages<T>(
  messages: AsyncIterable<T>,
  admit: (m: T) => Promise<void>,
): AsyncGenerator<T> {
  for await (const m of messages) {
    await admit(m);
    yield m;
  }
}

async function* prepend<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first.done) return;
  yield first.value;
  for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
}

/** Re-checks the credential before sending a message when `intervalMs` passed since the last check. */
async function* recheckWhileSending<T>(
  messages: AsyncIterable<T>,
  recheck: () => Promise<void>,
  intervalMs: number,
): AsyncGenerator<T> {
  let last = performance.now();
  for await (const m of messages) {
    if (performance.now() - last >= intervalMs) {
      await recheck();
      last = performance.now();
    }
    yield m;
  }
}

/**
 * Authentication and authorization of every RPC through the one gate (authGate.ts), before any service code
 * runs. Unary and server-streaming calls are checked against their request. Client-streaming and bidi calls
 * are authenticated when the stream opens and every message is checked as it is read (the credential still
 * valid, a rate-limit token, the message within the credential's bounds): the first message out of bounds ends
 * the stream with that error after every earlier message has been answered, and is never seen by the service.
 * Server-streaming responses (long-lived subscriptions) re-check the credential before sending a message when
 * `recheckMs` passed since the last check, so a revoked key or an expired token also ends them.
 */
export function authInterceptor(
  gate: AuthGate,
  policies: ReadonlyMap<string, Policy>,
  recheckMs = 1000,
): Interceptor {
  return (next) => async (req) => {
    const key = methodKey(req.method);
    const policy = policies.get(key);
    const presented = presentedCredential(req.header);
    if (!req.stream) {
      const principal = await gate.admit(key, policy, presented, req.message, false);
      req.contextValues.set(kPrincipal, principal);
      return next(req);
    }
    if (req.method.methodKind === "server_streaming") {
      const it = req.message[Symbol.asyncIterator]();
      const first = await it.next();
      const principal = await gate.admit(key, policy, presented, first.done ? undefined : first.value, false);
      req.contextValues.set(kPrincipal, principal);
      const res = await next({ ...req, message: prepend(first, it) });
      if (!res.stream || principal === undefined) return res;
      return { ...res, message: recheckWhileSending(res.message, () => gate.recheck(principal), recheckMs) };
    }
    const principal = await gate.admit(key, policy, presented, undefined, true);
    req.contextValues.set(kPrincipal, principal);
    const p = policy as Policy; // admit throws when there is none
    return next({ ...req, message: guardMessages(req.message, (m) => gate.admitMessage(p, principal, m)) });
  };
}
