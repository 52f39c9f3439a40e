// What the key tables of agents (agent_keys: Ed25519 signing keys; encryption_keys: X25519 recipient keys) have
// in common on PostgreSQL: the columns besides the key id, the database's clock, and revocation.
import type { TransactionSql } from "postgres";
import type { Sha256 } from "../../crypto/sha256.js";
import type { AuditRecord } from "../../domain/auditLog.js";
import { appendAudit } from "./pgAuditLog.js";

/** The columns of a key row other than its key id (key_id, recipient_kid). */
export interface KeyRowColumns {
  tenant_id: string;
  agent_id: string;
  public_key: Uint8Array;
  valid_from: Date;
  valid_to: Date | null;
  revoked_at: Date | null;
  revocation_reason: string | null;
  created_at: Date;
}

/** The fields of a key read from those columns. */
export function keyFieldsFromRow(r: KeyRowColumns) {
  return {
    tenantId: r.tenant_id,
    agentId: r.agent_id,
    publicKey: new Uint8Array(r.public_key),
    validFrom: r.valid_from,
    validTo: r.valid_to ?? undefined,
    revokedAt: r.revoked_at ?? undefined,
    revocationReason: r.revocation_reason ?? undefined,
    createdAt: r.created_at,
  };
}

/** The database's clock, read when this statement runs (not the transaction's start). */
export async function dbNow(tx: TransactionSql): Promise<Date> {
  const [row] = await tx<{ now: Date }[]>`select clock_timestamp() as now`;
  return (row as { now: Date }).now;
}

/** One key row of a table: agent_keys by key_id, encryption_keys by recipient_kid. */
export interface KeyRowRef {
  readonly table: "agent_keys" | "encryption_keys";
  readonly idColumn: "key_id" | "recipient_kid";
  readonly tenantId: string;
  readonly agentId: string;
  readonly id: number;
}

/**
 * Revokes a key (once) at the database's time, in the caller's transaction, and appends the audit entry made from
 * that time; returns the row as it is after (revoked now or before), or undefined when there is no such key. The
 * audit entry is written only when this call revoked the key.
 */
export async function revokeKeyRow<Row extends KeyRowColumns>(
  tx: TransactionSql,
  sha256: Sha256,
  ref: KeyRowRef,
  reason: string,
  audit: (revokedAt: Date) => AuditRecord,
): Promise<Row | undefined> {
  const { table, idColumn, tenantId, agentId } = ref;
  const id = String(ref.id);
  // Lock the row first: for an agent key this waits for every sequencing transaction that read the key (they
  // hold FOR KEY SHARE on it until they commit), so the time taken next is later than their sequenced_at.
  const rows = await tx<Row[]>`
    select * from ${tx(table)}
    where tenant_id = ${tenantId} and agent_id = ${agentId} and ${tx(idColumn)} = ${id}
    for update`;
  const row = rows[0];
  if (row === undefined) return undefined;
  if (row.revoked_at !== null) return row;
  // A statement of its own, after the lock was granted: clock_timestamp() is read when it runs.
  const [revoked] = await tx<Row[]>`
    update ${tx(table)} set revoked_at = clock_timestamp(), revocation_reason = ${reason}
    where tenant_id = ${tenantId} and agent_id = ${agentId} and ${tx(idColumn)} = ${id}
    returning *`;
  await appendAudit(tx, sha256, audit((revoked as Row).revoked_at as Date));
  return revoked;
}
