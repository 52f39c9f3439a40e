// Agents' X25519 encryption keys on PostgreSQL; every change is written with its audit entry in one transaction
// (pgAuditLog), like signing keys (pgAgentKeyStore.ts).
import type { Sql } from "postgres";
import type { EncryptionKeyStore } from "../../app/ports.js";
import type { Sha256 } from "../../crypto/sha256.js";
import type { EncryptionKey } from "../../domain/encryptionKey.js";
import { DomainError } from "../../domain/errors.js";
import { appendAudit } from "./pgAuditLog.js";
import { mapPgError } from "./pgErrors.js";

interface KeyRow {
  tenant_id: string;
  agent_id: string;
  recipient_kid: bigint;
  public_key: Uint8Array;
  valid_from: Date;
  valid_to: Date | null;
  revoked_at: Date | null;
  revocation_reason: string | null;
  created_at: Date;
}

function keyFromRow(r: KeyRow): EncryptionKey {
  return {
    tenantId: r.tenant_id,
    agentId: r.agent_id,
    recipientKid: Number(r.recipient_kid),
    publicKey: new Uint8Array(r.public_key),
    algorithm: "x25519",
    validFrom: r.valid_from,
    validTo: r.valid_to ?? undefined,
    revokedAt: r.revoked_at ?? undefined,
    revocationReason: r.revocation_reason ?? undefined,
    createdAt: r.created_at,
  };
}

export function createPgEncryptionKeyStore(sql: Sql, sha256: Sha256): EncryptionKeyStore {
  return {
    async insert(build) {
      try {
        return (await sql.begin(async (tx) => {
          const [clock] = await tx<{ now: Date }[]>`select clock_timestamp() as now`;
          const { key, audit } = build((clock as { now: Date }).now);
          const rows = await tx<KeyRow[]>`
            insert into encryption_keys (tenant_id, recipient_kid, agent_id, public_key, valid_from, valid_to,
                                         created_at)
            values (${key.tenantId}, ${String(key.recipientKid)}, ${key.agentId}, ${Buffer.from(key.publicKey)},
                    ${key.validFrom}, ${key.validTo ?? null}, ${key.createdAt})
            on conflict do nothing
            returning *`;
          const row = rows[0];
          if (row === undefined) {
            throw new DomainError(
              "already_exists",
              `recipient kid ${key.recipientKid} is already registered in tenant ${key.tenantId}; pick a recipient kid no key of the tenant has`,
              { field: "recipient_kid", actual: `${key.recipientKid}` },
            );
          }
          await appendAudit(tx, sha256, audit);
          return keyFromRow(row);
        })) as EncryptionKey;
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async list(tenantId, agentId) {
      try {
        const rows = await sql<KeyRow[]>`
          select * from encryption_keys
          where tenant_id = ${tenantId} ${agentId === undefined ? sql`` : sql`and agent_id = ${agentId}`}
          order by agent_id, recipient_kid`;
        return rows.map(keyFromRow);
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async revoke(tenantId, agentId, recipientKid, reason, audit) {
      try {
        return (await sql.begin(async (tx) => {
          const rows = await tx<KeyRow[]>`
            select * from encryption_keys
            where tenant_id = ${tenantId} and agent_id = ${agentId} and recipient_kid = ${String(recipientKid)}
            for update`;
          const row = rows[0];
          if (row === undefined) return undefined;
          if (row.revoked_at !== null) return keyFromRow(row);
          const revoked = await tx<KeyRow[]>`
            update encryption_keys set revoked_at = clock_timestamp(), revocation_reason = ${reason}
            where tenant_id = ${tenantId} and recipient_kid = ${String(recipientKid)}
            returning *`;
          const key = keyFromRow(revoked[0] as KeyRow);
          await appendAudit(tx, sha256, audit(key.revokedAt as Date));
          return key;
        })) as EncryptionKey | undefined;
      } catch (err) {
        throw mapPgError(err);
      }
    },
  };
}
