// The access decision, the same for every RPC and HTTP route (docs/protocol.md §3.3, §16.9): the permission an
// operation needs, then every tenant, store and agent the request names against the credential's bounds.
import { DomainError } from "./errors.js";
import { hasPermission, type Principal, type Scope } from "./principal.js";

/** What an operation needs: a permission, or only a valid credential (other than the metrics scraper's). */
export type Requirement = Scope | "authenticated";

/** Marks a reference to every tenant, store or agent (e.g. an empty agent filter that lists all agents). */
export const EVERY = "*";

/**
 * One thing a request touches: `id` is a tenant, store or agent id as the client sent it, or EVERY when the
 * operation spans all of them (which only a credential unbounded in that dimension may do). `field` names
 * where it came from, for the error.
 */
export interface ResourceRef {
  readonly kind: "tenant" | "store" | "agent";
  readonly field: string;
  readonly id: string;
}

function describe(p: Principal): string {
  return p.kind === "api_key" || p.kind === "jwt" ? `credential ${p.id}` : `the ${p.kind.replace("_", " ")}`;
}

function deny(message: string, field: string, expected: string, actual: string): DomainError {
  return new DomainError("permission_denied", message, { field, expected, actual });
}

/** Throws DomainError("permission_denied") unless `p` may do an operation needing `need` on `refs`. */
export function authorize(p: Principal, need: Requirement, refs: readonly ResourceRef[]): void {
  if (need === "authenticated" && p.kind === "metrics_scraper") {
    throw deny(
      "the metrics scraper credential (METRICS_API_KEY) may only read GET /metrics",
      "",
      "a tenant credential",
      "metrics",
    );
  }
  if (need !== "authenticated" && !hasPermission(p, need)) {
    const has = [...p.permissions].join(",") || "none";
    throw deny(
      `${describe(p)} lacks the "${need}" permission this operation needs (it has: ${has})`,
      "",
      need,
      has,
    );
  }
  for (const ref of refs) {
    const id = ref.id.toLowerCase();
    let bound: readonly string[] | undefined;
    if (ref.kind === "tenant") bound = p.tenantId === undefined ? undefined : [p.tenantId];
    else if (ref.kind === "store") bound = p.storeIds;
    else bound = p.agentId === undefined ? undefined : [p.agentId];
    if (bound === undefined) continue;
    const what = ref.kind === "tenant" ? "tenant" : ref.kind === "store" ? "stores" : "agent";
    const allowed = bound.join(",");
    if (id === EVERY) {
      throw deny(
        `${describe(p)} is limited to ${what} ${allowed}, and this operation spans every ${ref.kind} of the tenant` +
          (ref.field === "" ? "" : ` ("${ref.field}")`),
        ref.field,
        `a credential not limited to particular ${ref.kind}s`,
        `${what} ${allowed}`,
      );
    }
    if (!bound.includes(id)) {
      throw deny(
        `${describe(p)} may not access ${ref.kind} ${JSON.stringify(ref.id.slice(0, 80))}` +
          (ref.field === "" ? "" : ` ("${ref.field}")`) +
          `: it is limited to ${what} ${allowed}`,
        ref.field,
        allowed,
        ref.id.slice(0, 80),
      );
    }
  }
}
