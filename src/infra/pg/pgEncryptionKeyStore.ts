// Agents' X25519 encryption keys on PostgreSQL; every change is written with its audit entry in one transaction
// (pgAuditLog), like signing keys (pgAgentKeyStore.ts).
import type { Sql } from "postgres";
import type { EncryptionKeyStore } from "../../app/ports.js";
import type { Sha256 } from "../../crypto/sha256.js";
import type { EncryptionKey } from "../../domain/encryptionKey.js";
import { DomainError } from "../../domain/errors.js";
import { dbNow, type KeyRowColumns, keyFieldsFromRow, revokeKeyRow } from "./keyRows.js";
import { appendAudit } from "./pgAuditLog.js";
import { mapPgError } from "./pgErrors.js";

interface KeyRow extends KeyRowColumns {
  recipient_kid: bigint;
}

function keyFromRow(r: KeyRow): EncryptionKey {
  return { ...keyFieldsFromRow(r), recipientKid: Number(r.recipient_kid), algorithm: "x25519" };
}

export function createPgEncryptionKeyStore(sql: Sql, sha256: Sha256): EncryptionKeyStore {
  return {
    async insert(build) {
      try {
        return (await sql.begin(async (tx) => {
          const { key, audit } = build(await dbNow(tx));
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
      const ref = {
        table: "encryption_keys",
        idColumn: "recipient_kid",
        tenantId,
        agentId,
        id: recipientKid,
      } as const;
      try {
        const row = await sql.begin((tx) => revokeKeyRow<KeyRow>(tx, sha256, ref, reason, audit));
        return row === undefined ? undefined : keyFromRow(row);
      } catch (err) {
        throw mapPgError(err);
      }
    },
  };
}
