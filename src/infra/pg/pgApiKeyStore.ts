// API keys on PostgreSQL (§3.2, §16.9): only SHA-256 of each key is stored. Creation and revocation append to
// the key audit log in the same transaction, and a revocation notifies every instance (pgAuthChanges).
import type { Sql } from "postgres";
import type { ApiKeyStore } from "../../app/ports.js";
import type { Sha256 } from "../../crypto/sha256.js";
import type { ApiKey } from "../../domain/apiKey.js";
import { DomainError } from "../../domain/errors.js";
import type { Permission } from "../../domain/principal.js";
import { plainArray, textArray } from "./arrayLiteral.js";
import { appendAudit } from "./pgAuditLog.js";
import { notifyAuthChange } from "./pgAuthChanges.js";
import { mapPgError } from "./pgErrors.js";

interface ApiKeyRow {
  prefix: string;
  tenant_id: string;
  key_hash: Uint8Array;
  name: string;
  permissions: string[];
  store_ids: string[];
  agent_id: string | null;
  rate_limit: number | null;
  created_at: Date;
  created_by: string;
  revoked_at: Date | null;
}

function apiKeyFromRow(r: ApiKeyRow): ApiKey {
  return {
    prefix: r.prefix,
    tenantId: r.tenant_id,
    keyHash: new Uint8Array(r.key_hash),
    name: r.name,
    permissions: r.permissions as Permission[],
    storeIds: r.store_ids,
    agentId: r.agent_id ?? undefined,
    rateLimit: r.rate_limit ?? undefined,
    createdAt: r.created_at,
    createdBy: r.created_by,
    revokedAt: r.revoked_at ?? undefined,
  };
}

/** One key by prefix, straight from the table (the authentication path puts a cache in front of this). */
export async function findApiKey(sql: Sql, prefix: string): Promise<ApiKey | undefined> {
  try {
    const rows = await sql<ApiKeyRow[]>`select * from api_keys where prefix = ${prefix}`;
    return rows[0] === undefined ? undefined : apiKeyFromRow(rows[0]);
  } catch (err) {
    throw mapPgError(err);
  }
}

export function createPgApiKeyStore(sql: Sql, sha256: Sha256): ApiKeyStore {
  return {
    async insert(key, audit) {
      try {
        return await sql.begin(async (tx) => {
          const rows = await tx<ApiKeyRow[]>`
            insert into api_keys (prefix, tenant_id, key_hash, name, permissions, store_ids, agent_id, rate_limit,
                                  created_at, created_by)
            values (${key.prefix}, ${key.tenantId}, ${Buffer.from(key.keyHash)}, ${key.name},
                    ${textArray(key.permissions)}::text[], ${plainArray(key.storeIds)}::uuid[], ${key.agentId ?? null},
                    ${key.rateLimit ?? null}, ${key.createdAt}, ${key.createdBy})
            on conflict (prefix) do nothing
            returning *`;
          const row = rows[0];
          if (row === undefined) {
            throw new DomainError("already_exists", `API key prefix ${key.prefix} is taken`, {
              field: "prefix",
            });
          }
          await appendAudit(tx, sha256, audit);
          // A negative cache entry for this prefix (someone guessed it) must go too.
          await notifyAuthChange(tx, { kind: "api_key", prefix: key.prefix });
          return apiKeyFromRow(row);
        });
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async list(tenantId) {
      try {
        const rows = await sql<ApiKeyRow[]>`
          select * from api_keys where tenant_id = ${tenantId} order by created_at, prefix`;
        return rows.map(apiKeyFromRow);
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async revoke(tenantId, prefix, at, audit) {
      try {
        return await sql.begin(async (tx) => {
          const revoked = await tx<ApiKeyRow[]>`
            update api_keys set revoked_at = ${at}
            where tenant_id = ${tenantId} and prefix = ${prefix} and revoked_at is null
            returning *`;
          if (revoked[0] !== undefined) {
            await appendAudit(tx, sha256, audit);
            await notifyAuthChange(tx, { kind: "api_key", prefix });
            return apiKeyFromRow(revoked[0]);
          }
          const existing = await tx<ApiKeyRow[]>`
            select * from api_keys where tenant_id = ${tenantId} and prefix = ${prefix}`;
          return existing[0] === undefined ? undefined : apiKeyFromRow(existing[0]);
        });
      } catch (err) {
        throw mapPgError(err);
      }
    },
  };
}
