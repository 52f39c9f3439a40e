// The check of every UUID field of a request (tenant_id, agent_id, ...): a UUID, answered in lower case.
import { isUuid } from "../crypto/bytes.js";
import { invalidField, showValue } from "../domain/errors.js";

export function uuidField(field: string, value: string): string {
  if (!isUuid(value)) throw invalidField(field, "a UUID (8-4-4-4-12 hex)", showValue(value));
  return value.toLowerCase();
}
