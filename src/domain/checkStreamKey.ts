// The (tenant, store) pair that names a stream in a request: two UUIDs, normalised to lowercase.
import { isUuid } from "../crypto/bytes.js";
import { invalidField, showValue } from "./errors.js";
import type { StreamKey } from "./event.js";

export function checkStreamKey(tenantId: string, storeId: string): StreamKey {
  if (!isUuid(tenantId)) throw invalidField("tenant_id", "a UUID", showValue(tenantId));
  if (!isUuid(storeId)) throw invalidField("store_id", "a UUID", showValue(storeId));
  return { tenantId: tenantId.toLowerCase(), storeId: storeId.toLowerCase() };
}
