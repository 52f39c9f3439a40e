// The key audit log on PostgreSQL (§16.8): appended inside the transaction of the change it records, under the
// tenant's chain-head row lock, so entries of one tenant get seq 1, 2, 3... and each hash chains to the last.
import type { Sql, TransactionSql } from "postgres";
import type { AuditLogReader } from "../../app/ports.js";
import type { Sha256 } from "../../crypto/sha256.js";
import { type AuditEntry, type AuditRecord, auditContent, auditHash } from "../../domain/auditLog.js";
import { mapPgError } from "./pgErrors.js";

export async function appendAudit(tx: TransactionSql, sha256: Sha256, record: AuditRecord): Promise<void> {
  const t = record.tenantId;
  await tx`insert into key_audit_heads (tenant_id) values (${t}) on conflict do nothing`;
  const [head] = await tx<{ seq: bigint; hash: Uint8Array }[]>`
    select seq, hash from key_audit_heads where tenant_id = ${t} for update`;
  if (head === undefined) throw new Error(`audit chain head of tenant ${t} vanished while locking it`);
  const seq = head.seq + 1n;
  const content = auditContent(record, seq);
  const hash = auditHash(sha256, head.hash, content);
  await tx`
    insert into key_audit_log (tenant_id, seq, at, actor, action, subject, content, prev_hash, hash)
    values (${t}, ${String(seq)}, ${record.at}, ${record.actor}, ${record.action}, ${record.subject}, ${content},
            ${Buffer.from(head.hash)}, ${Buffer.from(hash)})`;
  await tx`update key_audit_heads set seq = ${String(seq)}, hash = ${Buffer.from(hash)} where tenant_id = ${t}`;
}

interface AuditRow {
  tenant_id: string;
  seq: bigint;
  at: Date;
  actor: string;
  action: string;
  subject: string;
  content: string;
  prev_hash: Uint8Array;
  hash: Uint8Array;
}

export function createPgAuditLogReader(sql: Sql): AuditLogReader {
  return {
    async list(tenantId, afterSeq, limit) {
      try {
        const rows = await sql<AuditRow[]>`
          select * from key_audit_log
          where tenant_id = ${tenantId} and seq > ${String(afterSeq)}
          order by seq limit ${limit}`;
        return rows.map(
          (r): AuditEntry => ({
            tenantId: r.tenant_id,
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            content: r.content,
            prevHash: new Uint8Array(r.prev_hash),
            hash: new Uint8Array(r.hash),
          }),
        );
      } catch (err) {
        throw mapPgError(err);
      }
    },
  };
}
