// Use case: read a tenant's key audit log (§16.8), oldest first, a page at a time.
import type { AuditEntry } from "../domain/auditLog.js";
import { invalidField } from "../domain/errors.js";
import type { AuditLogReader } from "./ports.js";
import { uuidField } from "./uuidField.js";

export const AUDIT_PAGE_DEFAULT = 100;
export const AUDIT_PAGE_MAX = 1000;

export async function listKeyAuditLog(
  reader: AuditLogReader,
  tenantId: string,
  afterSeq: bigint,
  limit: number,
): Promise<AuditEntry[]> {
  const tenant = uuidField("tenant_id", tenantId);
  const n = limit === 0 ? AUDIT_PAGE_DEFAULT : limit;
  if (n < 1 || n > AUDIT_PAGE_MAX) throw invalidField("limit", `0..${AUDIT_PAGE_MAX}`, `${limit}`);
  return reader.list(tenant, afterSeq, n);
}
