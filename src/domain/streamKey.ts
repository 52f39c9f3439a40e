// Stream keys as they arrive in requests: validated and normalised at the edge.
import { isUuid } from "../crypto/bytes.js";
import { invalidField, showValue } from "./errors.js";
import type { StreamKey } from "./event.js";

/** The stream named by a request's tenant_id and store_id, in lowercase canonical form. */
export function parseStreamKey(tenantId: string, storeId: string): StreamKey {
  if (!isUuid(tenantId)) throw invalidField("tenant_id", "a UUID", showValue(tenantId));
  if (!isUuid(storeId)) throw invalidField("store_id", "a UUID", showValue(storeId));
  return { tenantId: tenantId.toLowerCase(), storeId: storeId.toLowerCase() };
}

/** A map key for one stream. */
export function streamKeyString(s: StreamKey): string {
  return `${s.tenantId}/${s.storeId}`;
}
