// Plain HTTP routes (health, readiness, metrics), admitted by the same gate and policy table as the RPCs: the
// same headers carry the credential, and a route without a policy is denied.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AuthGate } from "./authGate.js";
import { headersFromNode, presentedCredential } from "./credentials.js";
import { httpErrorOf } from "./errors.js";
import type { Policy } from "./policies.js";
import type { HttpRoute } from "./server.js";

type Req = Parameters<HttpRoute>[0];
type Res = Parameters<HttpRoute>[1];

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** Route handlers by path (GET and HEAD). */
export type HttpHandlers = Readonly<Record<string, () => Promise<HttpAnswer>>>;

export function createHttpRoutes(
  gate: AuthGate,
  policies: ReadonlyMap<string, Policy>,
  handlers: HttpHandlers,
  log: Logger,
): HttpRoute {
  return (req: Req, res: Res) => {
    const path = (req.url ?? "").split("?")[0] as string;
    const handler = Object.hasOwn(handlers, path) ? handlers[path] : undefined;
    if (handler === undefined || (req.method !== "GET" && req.method !== "HEAD")) return false;
    const key = `GET ${path}`;
    const requestId = randomUUID();
    const presented = presentedCredential(headersFromNode(req.headers));
    gate
      .admit(key, policies.get(key), presented, undefined, false)
      .then(handler)
      .then(
        (answer) => {
          res.writeHead(answer.status, { "content-type": answer.contentType });
          res.end(req.method === "HEAD" ? "" : answer.body);
        },
        (err: unknown) => {
          const e = httpErrorOf(err, log, requestId);
          res.writeHead(e.status, e.headers);
          res.end(req.method === "HEAD" ? "" : e.body);
        },
      );
    return true;
  };
}
