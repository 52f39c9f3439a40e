// Per-request context values shared by interceptors and services.
import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "../domain/principal.js";

/** A random id per RPC, echoed in error details and logs. */
export const kRequestId = createContextKey<string>("", { description: "request id" });

/** The authenticated caller, set by the auth interceptor before any service code runs. */
export const kPrincipal = createContextKey<Principal | undefined>(undefined, { description: "principal" });

/** The audit log's actor for the current call. */
export function actorOf(values: { get<T>(key: { id: symbol; defaultValue: T }): T }): string {
  return values.get(kPrincipal)?.id ?? "anonymous";
}
