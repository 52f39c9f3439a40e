// Agent key registry on PostgreSQL (every change audited in the same transaction), and the public-key lookup
// of ingest with a bounded cache (public keys never change once registered; status is read under the stream
// lock at sequencing time, never cached, so a revocation is effective on every instance once it commits).
import type { Sql, TransactionSql } from "postgres";
import type { AgentKeyLookup, AgentKeyStore } from "../../app/ports.js";
import type { Sha256 } from "../../crypto/sha256.js";
import { type AgentKey, agentKeyRef } from "../../domain/agentKey.js";
import { DomainError } from "../../domain/errors.js";
import { appendAudit } from "./pgAuditLog.js";
import { mapPgError } from "./pgErrors.js";

interface KeyRow {
  tenant_id: string;
  agent_id: string;
  key_id: bigint;
  public_key: Uint8Array;
  valid_from: Date;
  valid_to: Date | null;
  revoked_at: Date | null;
  revocation_reason: string | null;
  created_at: Date;
}

function keyFromRow(r: KeyRow): AgentKey {
  return {
    tenantId: r.tenant_id,
    agentId: r.agent_id,
    keyId: Number(r.key_id),
    publicKey: new Uint8Array(r.public_key),
    algorithm: "ed25519",
    validFrom: r.valid_from,
    validTo: r.valid_to ?? undefined,
    revokedAt: r.revoked_at ?? undefined,
    revocationReason: r.revocation_reason ?? undefined,
    createdAt: r.created_at,
  };
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

/** The database's clock, read when this statement runs (not the transaction's start). */
async function dbNow(tx: TransactionSql): Promise<Date> {
  const [row] = await tx<{ now: Date }[]>`select clock_timestamp() as now`;
  return (row as { now: Date }).now;
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
      try {
        return (await sql.begin(async (tx) => {
          // Lock the row first: this waits for every sequencing transaction that read the key (they hold
          // FOR KEY SHARE on it until they commit), so the time taken next is later than their sequenced_at.
          const rows = await tx<KeyRow[]>`
            select * from agent_keys
            where tenant_id = ${tenantId} and agent_id = ${agentId} and key_id = ${String(keyId)}
            for update`;
          const row = rows[0];
          if (row === undefined) return undefined;
          if (row.revoked_at !== null) return keyFromRow(row);
          // A statement of its own, after the lock was granted: clock_timestamp() is read when it runs.
          const revoked = await tx<KeyRow[]>`
            update agent_keys set revoked_at = clock_timestamp(), revocation_reason = ${reason}
            where tenant_id = ${tenantId} and agent_id = ${agentId} and key_id = ${String(keyId)}
            returning *`;
          const key = keyFromRow(revoked[0] as KeyRow);
          await appendAudit(tx, sha256, audit(key.revokedAt as Date));
          return key;
        })) as AgentKey | undefined;
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
