// EventReader on PostgreSQL: pages of the events table by primary key (or the entity index), bounded by a head
// the caller read first, and cut by a running byte count in SQL so a page of large payloads stays small.
import type { PendingQuery, Row, Sql } from "postgres";
import type { EventReader, ReadRange } from "../../app/ports.js";
import type { StoredEvent } from "../../domain/event.js";
import { streamKeyString } from "../../domain/event.js";
import type { EventFilter } from "../../domain/eventFilter.js";
import type { ReadResult } from "../../domain/readRange.js";
import { plainArray, textArray } from "./arrayLiteral.js";
import { type EventRow, storedEventFromRow } from "./eventRows.js";
import { mapPgError } from "./pgErrors.js";

type PageRow = EventRow & { running_bytes: bigint };

// Kept equal to approxEventBytes (domain/readRange.ts): payload bytes plus 800.
const SIZE = "coalesce(octet_length(payload), pg_column_size(payload_encrypted), 0) + 800";

async function readPage(sql: Sql, where: PendingQuery<Row[]>, range: ReadRange): Promise<ReadResult> {
  try {
    const rows = await sql<PageRow[]>`
      select * from (
        select tenant_id, store_id, sequence_number, event_id, ves_version, source_agent_id, agent_key_id,
               entity_type, entity_id, event_type, created_at, payload_kind, payload, payload_encrypted,
               payload_plain_hash, payload_cipher_hash, event_signing_hash, agent_signature, agent_signature_scheme,
               command_id, base_version, entity_version, sequenced_at, sequencer_id, sequencer_key_id,
               receipt_hash, sequencer_signature,
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
    for (let i = 0; i < rows.length; i++) events[i] = storedEventFromRow(rows[i] as PageRow);
    const last = rows[rows.length - 1];
    const truncated =
      rows.length >= range.limit || (last !== undefined && Number(last.running_bytes) >= range.maxBytes);
    return { events, truncated };
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
        sql`tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}
            and entity_type = ${entityType} and entity_id = ${entityId}
            and entity_version >= ${String(range.from)}::bigint and entity_version <= ${String(range.to)}::bigint`,
        range,
      );
    },
  };
}
