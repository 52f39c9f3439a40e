// Agent key registry on PostgreSQL (every change audited in the same transaction), and the public-key lookup
// of ingest with a bounded cache (public keys never change once registered; status is read under the stream
// lock at sequencing time, never cached, so a revocation is effective on every instance once it commits).
import type { Sql, TransactionSql } from "postgres";
import type { AgentKeyLookup, AgentKeyStore } from "../../app/ports.js";
import type { Sha256 } from "../../crypto/sha256.js";
import { type AgentKey, agentKeyRef } from "../../domain/agentKey.js";
import { DomainError } from "../../domain/errors.js";
import { dbNow, type KeyRowColumns, keyFieldsFromRow, revokeKeyRow } from "./keyRows.js";
import { appendAudit } from "./pgAuditLog.js";
import { mapPgError } from "./pgErrors.js";

interface KeyRow extends KeyRowColumns {
  key_id: bigint;
}

function keyFromRow(r: KeyRow): AgentKey {
  return { ...keyFieldsFromRow(r), keyId: Number(r.key_id), algorithm: "ed25519" };
}

const KEY_EXISTS = (key: AgentKey): DomainError =>
  new DomainError(
    "already_exists",
    `agent key ${key.keyId} of agent ${key.agentId} is already registered in tenant ${key.tenantId}; register a new key id to rotate`,
    { field: "key_id", actual: `${key.keyId}` },
  );

async function insertKey(tx: TransactionSql, key: AgentKey): Promise<AgentKey> {
  const rows = await tx<KeyRow[]>`
    insert into agent_keys (tenant_id, agent_id, key_id, public_key, valid_from, valid_to, created_at)
    values (${key.tenantId}, ${key.agentId}, ${String(key.keyId)}, ${Buffer.from(key.publicKey)},
            ${key.validFrom}, ${key.validTo ?? null}, ${key.createdAt})
    on conflict do nothing
    returning *`;
  const row = rows[0];
  if (row === undefined) throw KEY_EXISTS(key);
  return keyFromRow(row);
}

/** Agent keys; every change is written with its audit entry in one transaction (pgAuditLog). */
export function createPgAgentKeyStore(sql: Sql, sha256: Sha256): AgentKeyStore {
  return {
    async insert(build) {
      try {
        return (await sql.begin(async (tx) => {
          const { key, audit } = build(await dbNow(tx));
          const stored = await insertKey(tx, key);
          await appendAudit(tx, sha256, audit);
          return stored;
        })) as AgentKey;
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async list(tenantId, agentId) {
      try {
        const rows = await sql<KeyRow[]>`
          select * from agent_keys
          where tenant_id = ${tenantId} ${agentId === undefined ? sql`` : sql`and agent_id = ${agentId}`}
          order by agent_id, key_id`;
        return rows.map(keyFromRow);
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async revoke(tenantId, agentId, keyId, reason, audit) {
      const ref = { table: "agent_keys", idColumn: "key_id", tenantId, agentId, id: keyId } as const;
      try {
        const row = await sql.begin((tx) => revokeKeyRow<KeyRow>(tx, sha256, ref, reason, audit));
        return row === undefined ? undefined : keyFromRow(row);
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async rotate(tenantId, agentId, oldKeyId, plan) {
      try {
        return (await sql.begin(async (tx) => {
          const rows = await tx<KeyRow[]>`
            select * from agent_keys
            where tenant_id = ${tenantId} and agent_id = ${agentId} and key_id = ${String(oldKeyId)}
            for update`;
          const decided = plan(rows[0] === undefined ? undefined : keyFromRow(rows[0]), await dbNow(tx));
          const newKey = await insertKey(tx, decided.newKey);
          const updated =
            decided.oldValidTo === undefined
              ? rows
              : await tx<KeyRow[]>`
                  update agent_keys set valid_to = ${decided.oldValidTo}
                  where tenant_id = ${tenantId} and agent_id = ${agentId} and key_id = ${String(oldKeyId)}
                  returning *`;
          await appendAudit(tx, sha256, decided.audit);
          return { oldKey: keyFromRow(updated[0] as KeyRow), newKey };
        })) as { oldKey: AgentKey; newKey: AgentKey };
      } catch (err) {
        throw mapPgError(err);
      }
    },
  };
}

/** Public keys for ingest, cached per (tenant, agent, key id) up to `maxEntries` (least recently used out). */
export function createPgAgentKeyLookup(sql: Sql, maxEntries = 100_000): AgentKeyLookup {
  const cache = new Map<string, Uint8Array>();
  return {
    async publicKeys(tenantId, refs) {
      const found = new Map<string, Uint8Array>();
      const missing: { agentId: string; keyId: number }[] = [];
      for (const ref of refs) {
        const k = agentKeyRef(ref.agentId, ref.keyId);
        const hit = cache.get(`${tenantId}/${k}`);
        if (hit === undefined) {
          missing.push(ref);
        } else {
          // Refresh recency: Map iteration order is insertion order.
          cache.delete(`${tenantId}/${k}`);
          cache.set(`${tenantId}/${k}`, hit);
          found.set(k, hit);
        }
      }
      if (missing.length > 0) {
        let rows: { agent_id: string; key_id: bigint; public_key: Uint8Array }[];
        try {
          rows = await sql`
            select k.agent_id, k.key_id, k.public_key from agent_keys k
            join unnest(${missing.map((r) => r.agentId)}::uuid[], ${missing.map((r) => String(r.keyId))}::bigint[])
                 as r(agent_id, key_id) on k.agent_id = r.agent_id and k.key_id = r.key_id
            where k.tenant_id = ${tenantId}`;
        } catch (err) {
          throw mapPgError(err);
        }
        for (const r of rows) {
          const k = agentKeyRef(r.agent_id, Number(r.key_id));
          const pk = new Uint8Array(r.public_key);
          found.set(k, pk);
          cache.set(`${tenantId}/${k}`, pk);
        }
        while (cache.size > maxEntries) {
          const oldest = cache.keys().next().value;
          if (oldest === undefined) break;
          cache.delete(oldest);
        }
      }
      return found;
    },
  };
}
