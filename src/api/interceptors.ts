// Interceptors applied to every RPC: request id, error mapping (unary and streaming), RPC log and metrics.
import { randomUUID } from "node:crypto";
import { Code, type ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { kRequestId } from "./context.js";
import { toConnectError } from "./errors.js";
import type { Metrics } from "./metrics.js";

async function* mapErrors<T>(it: AsyncIterable<T>, fail: (err: unknown) => ConnectError): AsyncGenerator<T> {
  try {
    yield* it;
  } catch (err) {
    throw fail(err);
  }
}

export function errorInterceptor(log: Logger, metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const requestId = randomUUID();
    req.contextValues.set(kRequestId, requestId);
    const method = req.method.name;
    const fail = (err: unknown): ConnectError => {
      const mapped = toConnectError(err, log, requestId);
      metrics.rpcs.inc({ method, code: Code[mapped.code] });
      log.debug({ requestId, method, code: Code[mapped.code], msg: mapped.rawMessage }, "rpc failed");
      return mapped;
    };
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
