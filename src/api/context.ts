// Per-request context values shared by interceptors and services.
import { createContextKey } from "@connectrpc/connect";

/** A random id per RPC, echoed in error details and logs. */
export const kRequestId = createContextKey<string>("", { description: "request id" });
