// Reads the credential a request presents, the same way for RPC metadata and HTTP headers (§3.2):
// "authorization: Bearer <JWT>", "authorization: ApiKey <key>", or "x-api-key: <key>" (used only when there is
// no authorization header).
import type { PresentedCredential } from "../app/authenticate.js";

const MAX_CREDENTIAL_LENGTH = 8192;

function bad(reason: string): PresentedCredential {
  return { kind: "malformed", reason };
}

export function presentedCredential(headers: Pick<Headers, "get">): PresentedCredential {
  const authorization = headers.get("authorization");
  if (authorization !== null) {
    if (authorization.length > MAX_CREDENTIAL_LENGTH)
      return bad(`authorization header longer than ${MAX_CREDENTIAL_LENGTH}`);
    const m = /^([A-Za-z]+) +(\S+)$/.exec(authorization.trim());
    if (m === null) return bad('authorization header expected "<scheme> <credential>"');
    const scheme = (m[1] as string).toLowerCase();
    const value = m[2] as string;
    if (scheme === "bearer") return { kind: "bearer", token: value };
    if (scheme === "apikey") return { kind: "api_key", key: value };
    return bad(`authorization scheme ${JSON.stringify(m[1]?.slice(0, 20))} is not Bearer or ApiKey`);
  }
  const apiKey = headers.get("x-api-key");
  if (apiKey !== null) {
    const key = apiKey.trim();
    if (key === "" || key.length > MAX_CREDENTIAL_LENGTH || /\s/.test(key)) {
      return bad("x-api-key header expected one API key");
    }
    return { kind: "api_key", key };
  }
  return { kind: "none" };
}

/** Node's incoming headers (HTTP/1.1 or HTTP/2, pseudo-headers skipped) as a fetch Headers object. */
export function headersFromNode(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(":") || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}
