// The one access decision for every RPC and every HTTP route (§16.9): authenticate the credential, take a
// rate-limit token, then check the policy's permission and every tenant, store and agent the request touches.
// The RPC interceptor and the HTTP routes both call it, so the rules cannot differ between transports.
import {
  type AuthenticateDeps,
  authenticate,
  type PresentedCredential,
  recheckPrincipal,
} from "../app/authenticate.js";
import type { RateLimiter } from "../app/rateLimiter.js";
import { authorize } from "../domain/authorize.js";
import { DomainError } from "../domain/errors.js";
import { AUTH_DISABLED_PRINCIPAL, type Principal } from "../domain/principal.js";
import type { Policy } from "./policies.js";

export interface AuthGate {
  /**
   * Admits a call (or the opening of a stream when `perMessage`): returns the caller, undefined for a public
   * policy. Throws DomainError unauthenticated / permission_denied / resource_exhausted.
   */
  admit(
    policyKey: string,
    policy: Policy | undefined,
    presented: PresentedCredential,
    message: unknown,
    perMessage: boolean,
  ): Promise<Principal | undefined>;
  /** Admits one message of a client-streaming or bidi RPC: still valid, within the rate, within bounds. */
  admitMessage(policy: Policy, principal: Principal | undefined, message: unknown): Promise<void>;
  /** Throws DomainError("unauthenticated") once the principal's credential was revoked or expired. */
  recheck(principal: Principal): Promise<void>;
}

export interface AuthGateOptions {
  readonly mode: "required" | "disabled";
  readonly authn: AuthenticateDeps;
  readonly limiter: RateLimiter;
}

export function createAuthGate(opts: AuthGateOptions): AuthGate {
  const who = (presented: PresentedCredential): Promise<Principal> =>
    opts.mode === "disabled" ? Promise.resolve(AUTH_DISABLED_PRINCIPAL) : authenticate(opts.authn, presented);
  return {
    async admit(policyKey, policy, presented, message, perMessage) {
      if (policy?.requirement === "public") return undefined;
      const principal = await who(presented);
      if (policy === undefined) {
        throw new DomainError(
          "permission_denied",
          `${policyKey} has no access policy, so it is denied to every caller (fail closed)`,
          { field: "", actual: policyKey },
        );
      }
      // Streams pay per message, not for opening.
      if (!perMessage) opts.limiter.take(principal);
      authorize(principal, policy.requirement, perMessage ? [] : policy.refs(message));
      const also = perMessage ? undefined : policy.also?.(message);
      if (also !== undefined) authorize(principal, also.requirement, also.refs);
      return principal;
    },

    async admitMessage(policy, principal, message) {
      if (principal === undefined || policy.requirement === "public") return;
      if (opts.mode === "required") await recheckPrincipal(opts.authn, principal);
      opts.limiter.take(principal);
      authorize(principal, policy.requirement, policy.refs(message));
      const also = policy.also?.(message);
      if (also !== undefined) authorize(principal, also.requirement, also.refs);
    },

    async recheck(principal) {
      if (opts.mode === "required") await recheckPrincipal(opts.authn, principal);
    },
  };
}
