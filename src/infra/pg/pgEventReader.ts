// EventReader on PostgreSQL: pages of the events table by primary key (or the entity index), bounded by a head
// the caller read first, and cut by a running byte count in SQL so a page of large payloads stays small.
import type { PendingQuery, Row, Sql } from "postgres";
import type { EventReader, ReadRange } from "../../app/ports.js";
import type { StoredEvent, StreamKey } from "../../domain/event.js";
import { streamKeyString } from "../../domain/event.js";
import type { EventFilter } from "../../domain/eventFilter.js";
import { approxEventBytes, type ReadResult } from "../../domain/readRange.js";
import { plainArray, textArray } from "./arrayLiteral.js";
import { type EncryptedJson, encryptedFromJson } from "./eventRows.js";
import { mapPgError } from "./pgErrors.js";

/**
 * A lean row: the six fixed-size hashes and signatures travel as one bytea (one hex decode instead of six), the
 * plaintext payload as text (validated UTF-8 JSON at ingest, so the round trip is byte-exact and half the size of
 * hex), the time as integer milliseconds. Parsing rows is most of the cost of a catch-up read.
 */
interface LeanRow {
  sequence_number: bigint;
  event_id: string;
  source_agent_id: string;
  agent_key_id: bigint;
  entity_type: string;
  entity_id: string;
  event_type: string;
  created_at: string;
  payload_kind: number;
  payload_text: string | null;
  payload_encrypted: EncryptedJson | null;
  fixed: Buffer;
  agent_signature_scheme: number;
  command_id: string | null;
  base_version: bigint | null;
  entity_version: bigint;
  sequenced_ms: bigint;
  sequencer_id: string;
  sequencer_key_id: string;
}

// Kept equal to approxEventBytes (domain/readRange.ts): payload bytes plus 800.
const SIZE = "coalesce(octet_length(payload), pg_column_size(payload_encrypted), 0) + 800";

function eventFromLeanRow(stream: StreamKey, r: LeanRow): StoredEvent {
  const f = r.fixed;
  return {
    vesVersion: 1,
    eventId: r.event_id,
    tenantId: stream.tenantId,
    storeId: stream.storeId,
    sourceAgentId: r.source_agent_id,
    agentKeyId: Number(r.agent_key_id),
    entityType: r.entity_type,
    entityId: r.entity_id,
    eventType: r.event_type,
    createdAt: r.created_at,
    payloadKind: r.payload_kind === 1 ? 1 : 0,
    payload: r.payload_text === null ? undefined : Buffer.from(r.payload_text, "utf8"),
    payloadEncrypted: r.payload_encrypted === null ? undefined : encryptedFromJson(r.payload_encrypted),
    payloadPlainHash: f.subarray(0, 32),
    payloadCipherHash: f.subarray(32, 64),
    agentSignature: f.subarray(96, 160),
    agentSignatureScheme: r.agent_signature_scheme,
    commandId: r.command_id ?? undefined,
    baseVersion: r.base_version ?? undefined,
    entityVersion: r.entity_version,
    receipt: {
      sequencerId: r.sequencer_id,
      sequencerKeyId: r.sequencer_key_id,
      tenantId: stream.tenantId,
      storeId: stream.storeId,
      eventId: r.event_id,
      sequenceNumber: r.sequence_number,
      sequencedAt: new Date(Number(r.sequenced_ms)),
      eventSigningHash: f.subarray(64, 96),
      receiptHash: f.subarray(160, 192),
      sequencerSignature: f.subarray(192, 256),
    },
  };
}

async function readPage(
  sql: Sql,
  stream: StreamKey,
  where: PendingQuery<Row[]>,
  range: ReadRange,
): Promise<ReadResult> {
  try {
    // The running byte count cuts a page of large payloads short in the database, before it is sent.
    const rows = await sql<LeanRow[]>`
      select sequence_number, event_id, source_agent_id, agent_key_id, entity_type, entity_id, event_type,
             created_at, payload_kind, payload_text, payload_encrypted, fixed, agent_signature_scheme, command_id,
             base_version, entity_version, sequenced_ms, sequencer_id, sequencer_key_id
      from (
        select sequence_number, event_id, source_agent_id, agent_key_id, entity_type, entity_id, event_type,
               created_at, payload_kind, convert_from(payload, 'UTF8') as payload_text, payload_encrypted,
               payload_plain_hash || payload_cipher_hash || event_signing_hash || agent_signature || receipt_hash
                 || sequencer_signature as fixed,
               agent_signature_scheme, command_id, base_version, entity_version,
               floor(extract(epoch from sequenced_at) * 1000)::int8 as sequenced_ms, sequencer_id, sequencer_key_id,
               ${sql.unsafe(SIZE)} as size_bytes,
               sum(${sql.unsafe(SIZE)}) over (order by sequence_number rows unbounded preceding) as running_bytes
        from events
        where ${where}
        order by sequence_number
        limit ${range.limit}
      ) page
      where running_bytes - size_bytes < ${range.maxBytes}
      order by sequence_number`;
    const events: StoredEvent[] = new Array(rows.length);
    let bytes = 0;
    for (let i = 0; i < rows.length; i++) {
      const e = eventFromLeanRow(stream, rows[i] as LeanRow);
      events[i] = e;
      bytes += approxEventBytes(e);
    }
    return { events, truncated: rows.length >= range.limit || bytes >= range.maxBytes };
  } catch (err) {
    throw mapPgError(err);
  }
}

export function createPgEventReader(sql: Sql): EventReader {
  return {
    async head(stream) {
      try {
        const rows = await sql<{ head: bigint }[]>`
          select head from streams where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}`;
        return rows[0]?.head ?? 0n;
      } catch (err) {
        throw mapPgError(err);
      }
    },

    async heads(streams) {
      const heads = new Map<string, bigint>();
      if (streams.length === 0) return heads;
      try {
        const rows = await sql<{ tenant_id: string; store_id: string; head: bigint }[]>`
          select s.tenant_id, s.store_id, s.head
          from unnest(${plainArray(streams.map((s) => s.tenantId))}::uuid[],
                      ${plainArray(streams.map((s) => s.storeId))}::uuid[]) as k(tenant_id, store_id)
          join streams s on s.tenant_id = k.tenant_id and s.store_id = k.store_id`;
        for (const r of rows)
          heads.set(streamKeyString({ tenantId: r.tenant_id, storeId: r.store_id }), r.head);
        return heads;
      } catch (err) {
        throw mapPgError(err);
      }
    },

    read(stream, range, filter: EventFilter) {
      return readPage(
        sql,
        stream,
        sql`tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}
            and sequence_number >= ${String(range.from)}::bigint and sequence_number <= ${String(range.to)}::bigint
            ${filter.entityType === undefined ? sql`` : sql`and entity_type = ${filter.entityType}`}
            ${filter.entityId === undefined ? sql`` : sql`and entity_id = ${filter.entityId}`}
            ${filter.eventTypes.length === 0 ? sql`` : sql`and event_type = any(${textArray(filter.eventTypes)}::text[])`}
            ${filter.sourceAgentIds.length === 0 ? sql`` : sql`and source_agent_id = any(${plainArray(filter.sourceAgentIds)}::uuid[])`}`,
        range,
      );
    },

    async entityVersion(stream, entityType, entityId) {
      try {
        const rows = await sql<{ version: bigint }[]>`
          select version from entity_versions
          where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}
            and entity_type = ${entityType} and entity_id = ${entityId}`;
        return rows[0]?.version ?? 0n;
      } catch (err) {
        throw mapPgError(err);
      }
    },

    entityEvents(stream, entityType, entityId, range) {
      // events_entity serves the equality and the order; versions rise with sequence numbers within an entity.
      return readPage(
        sql,
        stream,
        sql`tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}
            and entity_type = ${entityType} and entity_id = ${entityId}
            and entity_version >= ${String(range.from)}::bigint and entity_version <= ${String(range.to)}::bigint`,
        range,
      );
    },
  };
}
