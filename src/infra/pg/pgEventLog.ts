// EventLog on PostgreSQL: the stream row lock serialises sequencing; one multi-row INSERT per batch; a NOTIFY
// of the new head at commit.
import type { Sql, TransactionSql } from "postgres";
import type { EventLog, LockedStream, StreamQuery } from "../../app/ports.js";
import { type AgentKeyValidity, agentKeyRef } from "../../domain/agentKey.js";
import { type ExistingEvent, entityKey } from "../../domain/decideBatch.js";
import type { StoredEvent, StreamKey } from "../../domain/event.js";
import { byteaArray, plainArray, textArray } from "./arrayLiteral.js";
import { COMMIT_CHANNEL, commitPayload } from "./commitChannel.js";
import { type EventRow, encryptedToJson, receiptFromRow } from "./eventRows.js";
import { mapPgError } from "./pgErrors.js";

type ExistingRow = Pick<
  EventRow,
  | "event_id"
  | "tenant_id"
  | "store_id"
  | "sequence_number"
  | "event_signing_hash"
  | "agent_signature"
  | "command_id"
  | "base_version"
  | "sequenced_at"
  | "sequencer_id"
  | "sequencer_key_id"
  | "receipt_hash"
  | "sequencer_signature"
>;

async function readLocked(tx: TransactionSql, stream: StreamKey, q: StreamQuery): Promise<LockedStream> {
  const { tenantId: t, storeId: s } = stream;
  // All statements are pipelined on the one connection; the lookups run after the lock is granted.
  const [, headRows, existingRows, commandRows, entityRows, keyRows, nowRows] = await Promise.all([
    tx`insert into streams (tenant_id, store_id) values (${t}, ${s}) on conflict do nothing`,
    tx<{ head: bigint }[]>`select head from streams where tenant_id = ${t} and store_id = ${s} for update`,
    q.eventIds.length === 0
      ? []
      : tx<ExistingRow[]>`
          select event_id, tenant_id, store_id, sequence_number, event_signing_hash, agent_signature, command_id,
                 base_version, sequenced_at, sequencer_id, sequencer_key_id, receipt_hash, sequencer_signature
          from events where event_id = any(${plainArray(q.eventIds)}::uuid[])`,
    q.commandIds.length === 0
      ? []
      : tx<{ command_id: string; event_id: string }[]>`
          select command_id, event_id from events
          where tenant_id = ${t} and store_id = ${s} and command_id = any(${plainArray(q.commandIds)}::uuid[])`,
    // Driven from the batch's keys with a full primary-key probe per key, so the plan cannot depend on
    // (possibly stale) table statistics.
    q.entities.length === 0
      ? []
      : tx<{ entity_type: string; entity_id: string; version: bigint | null }[]>`
          select k.entity_type, k.entity_id,
                 (select v.version from entity_versions v
                  where v.tenant_id = ${t} and v.store_id = ${s}
                    and v.entity_type = k.entity_type and v.entity_id = k.entity_id) as version
          from unnest(${textArray(q.entities.map((e) => e.entityType))}::text[], ${textArray(q.entities.map((e) => e.entityId))}::text[])
               as k(entity_type, entity_id)`,
    q.keyRefs.length === 0
      ? []
      : tx<
          {
            agent_id: string;
            key_id: bigint;
            valid_from: Date;
            valid_to: Date | null;
            revoked_at: Date | null;
          }[]
        >`
          select k.agent_id, k.key_id, k.valid_from, k.valid_to, k.revoked_at
          from unnest(${plainArray(q.keyRefs.map((r) => r.agentId))}::uuid[], ${plainArray(q.keyRefs.map((r) => r.keyId))}::bigint[])
               as r(agent_id, key_id)
          cross join lateral (
            select * from agent_keys a
            where a.tenant_id = ${t} and a.agent_id = r.agent_id and a.key_id = r.key_id
            for key share) k`,
    // Read after the key rows are locked (statements run in order): a revocation either committed before the
    // lock was granted (and is seen, with an earlier revoked_at) or waits for this commit and stamps a later
    // time. FOR KEY SHARE conflicts only with the revocation's FOR UPDATE, not with other sequencers.
    tx<{ now: Date }[]>`select clock_timestamp() as now`,
  ]);
  const head = headRows[0]?.head;
  if (head === undefined) throw new Error(`stream ${t}/${s} vanished while locking it`);

  const existing = new Map<string, ExistingEvent>();
  for (const r of existingRows) {
    existing.set(r.event_id, {
      tenantId: r.tenant_id,
      storeId: r.store_id,
      signingHash: r.event_signing_hash,
      agentSignature: r.agent_signature,
      commandId: r.command_id ?? undefined,
      baseVersion: r.base_version ?? undefined,
      receipt: receiptFromRow(r as EventRow),
    });
  }
  const commands = new Map(commandRows.map((r) => [r.command_id, r.event_id] as const));
  const entityVersions = new Map<string, bigint>();
  for (const r of entityRows) {
    if (r.version !== null) entityVersions.set(entityKey(r.entity_type, r.entity_id), r.version);
  }
  const keys = new Map<string, AgentKeyValidity>();
  for (const r of keyRows) {
    keys.set(agentKeyRef(r.agent_id, Number(r.key_id)), {
      validFrom: r.valid_from,
      validTo: r.valid_to ?? undefined,
      revokedAt: r.revoked_at ?? undefined,
    });
  }
  return { head, existing, commands, entityVersions, keys, now: (nowRows[0] as { now: Date }).now };
}

async function insertEvents(
  tx: TransactionSql,
  stream: StreamKey,
  events: readonly StoredEvent[],
  newHead: bigint,
): Promise<void> {
  const first = events[0];
  if (first === undefined) return;
  const r = first.receipt;
  const col = <T>(f: (e: StoredEvent) => T): T[] => events.map(f);
  // Each entity's last version in the batch (events are in sequence order, so the last one wins).
  const finalVersions = new Map<string, StoredEvent>();
  for (const e of events) finalVersions.set(entityKey(e.entityType, e.entityId), e);
  const entities = [...finalVersions.values()];
  const versions = tx`
    insert into entity_versions (tenant_id, store_id, entity_type, entity_id, version)
    select ${stream.tenantId}::uuid, ${stream.storeId}::uuid, u.entity_type, u.entity_id, u.version
    from unnest(${textArray(entities.map((e) => e.entityType))}::text[], ${textArray(entities.map((e) => e.entityId))}::text[],
                ${plainArray(entities.map((e) => e.entityVersion))}::bigint[]) as u(entity_type, entity_id, version)
    on conflict (tenant_id, store_id, entity_type, entity_id) do update set version = excluded.version`;
  const inserted = tx`
    with inserted as (
      insert into events (
        tenant_id, store_id, sequence_number, event_id, ves_version, source_agent_id, agent_key_id,
        entity_type, entity_id, event_type, created_at, payload_kind, payload, payload_encrypted,
        payload_plain_hash, payload_cipher_hash, event_signing_hash, agent_signature, agent_signature_scheme,
        command_id, base_version, entity_version,
        sequenced_at, sequencer_id, sequencer_key_id, receipt_hash, sequencer_signature)
      select ${stream.tenantId}::uuid, ${stream.storeId}::uuid, u.sequence_number, u.event_id, u.ves_version,
             u.source_agent_id, u.agent_key_id, u.entity_type, u.entity_id, u.event_type, u.created_at,
             u.payload_kind, u.payload, u.payload_encrypted, u.payload_plain_hash, u.payload_cipher_hash,
             u.event_signing_hash, u.agent_signature, u.agent_signature_scheme, u.command_id, u.base_version,
             u.entity_version,
             ${r.sequencedAt}::timestamptz, ${r.sequencerId}::uuid, ${r.sequencerKeyId}, u.receipt_hash,
             u.sequencer_signature
      from unnest(
        ${plainArray(col((e) => e.receipt.sequenceNumber))}::bigint[],
        ${plainArray(col((e) => e.eventId))}::uuid[],
        ${plainArray(col((e) => e.vesVersion))}::int[],
        ${plainArray(col((e) => e.sourceAgentId))}::uuid[],
        ${plainArray(col((e) => e.agentKeyId))}::bigint[],
        ${textArray(col((e) => e.entityType))}::text[],
        ${textArray(col((e) => e.entityId))}::text[],
        ${textArray(col((e) => e.eventType))}::text[],
        ${textArray(col((e) => e.createdAt))}::text[],
        ${plainArray(col((e) => e.payloadKind))}::smallint[],
        ${byteaArray(col((e) => e.payload))}::bytea[],
        ${textArray(col((e) => (e.payloadEncrypted === undefined ? null : JSON.stringify(encryptedToJson(e.payloadEncrypted)))))}::jsonb[],
        ${byteaArray(col((e) => e.payloadPlainHash))}::bytea[],
        ${byteaArray(col((e) => e.payloadCipherHash))}::bytea[],
        ${byteaArray(col((e) => e.receipt.eventSigningHash))}::bytea[],
        ${byteaArray(col((e) => e.agentSignature))}::bytea[],
        ${plainArray(col((e) => e.agentSignatureScheme))}::smallint[],
        ${plainArray(col((e) => e.commandId))}::uuid[],
        ${plainArray(col((e) => e.baseVersion))}::bigint[],
        ${plainArray(col((e) => e.entityVersion))}::bigint[],
        ${byteaArray(col((e) => e.receipt.receiptHash))}::bytea[],
        ${byteaArray(col((e) => e.receipt.sequencerSignature))}::bytea[]
      ) as u(sequence_number, event_id, ves_version, source_agent_id, agent_key_id, entity_type, entity_id,
             event_type, created_at, payload_kind, payload, payload_encrypted, payload_plain_hash,
             payload_cipher_hash, event_signing_hash, agent_signature, agent_signature_scheme, command_id,
             base_version, entity_version, receipt_hash, sequencer_signature)
      returning 1
    )
    update streams set head = ${String(newHead)}::bigint
    where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}`;
  // Queued now, delivered to every LISTEN connection (every instance) when this transaction commits.
  const notified = tx`select pg_notify(${COMMIT_CHANNEL}, ${commitPayload(stream, newHead)})`;
  await Promise.all([versions, inserted, notified]);
}

export function createPgEventLog(sql: Sql): EventLog {
  return {
    async sequence(stream, query, fn) {
      try {
        const result = await sql.begin(async (tx) => {
          const locked = await readLocked(tx, stream, query);
          return fn(locked, (events, newHead) => insertEvents(tx, stream, events, newHead));
        });
        return result as Awaited<ReturnType<typeof fn>>;
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async head(stream) {
      try {
        const rows = await sql<{ head: bigint }[]>`
          select head from streams where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}`;
        return rows[0]?.head ?? 0n;
      } catch (err) {
        throw mapPgError(err);
      }
    },
  };
}
