// AnchorStore on PostgreSQL (migrations/030_anchors.sql): anchor records per (chain, contract) and per-stream
// failures. Every write that moves a stream's anchored end does so in the same transaction as its records.
import type { Sql } from "postgres";
import type { AnchorCandidate, AnchorStore, StreamFailure } from "../../app/anchorPorts.js";
import { bytesToHex, hexToBytes } from "../../crypto/bytes.js";
import type { AnchorRecord, AnchorStatus, Hex32, SentTx, TxAttempt } from "../../domain/anchor.js";
import type { StreamKey } from "../../domain/event.js";
import { COMMITMENT_COLUMNS, type CommitmentRow, commitmentFromRow } from "./pgCommitmentStore.js";
import { mapPgError } from "./pgErrors.js";

const bytes = (hex: Hex32): Buffer => Buffer.from(hexToBytes(hex.slice(2)));
const hex = (b: Uint8Array): Hex32 => `0x${bytesToHex(b)}`;

interface RecordRow {
  commitment_id: string;
  tenant_id: string;
  store_id: string;
  sequence_end: bigint;
  status: AnchorStatus;
  tx_hash: Uint8Array;
  block_number: bigint | null;
  block_hash: Uint8Array | null;
  submitted_at: Date;
}

interface AttemptRow {
  tx_hash: Uint8Array;
  first_hash: Uint8Array;
  sender: Uint8Array;
  nonce: bigint;
  gas_limit: bigint;
  max_fee_per_gas: string;
  max_priority_fee_per_gas: string;
  calldata: Uint8Array;
  sent_at: Date;
}

function attemptFromRow(r: AttemptRow): TxAttempt {
  return {
    txHash: hex(r.tx_hash),
    firstHash: hex(r.first_hash),
    sender: hex(r.sender),
    nonce: r.nonce,
    gas: r.gas_limit,
    maxFeePerGas: BigInt(r.max_fee_per_gas),
    maxPriorityFeePerGas: BigInt(r.max_priority_fee_per_gas),
    data: hex(r.calldata),
    sentAt: r.sent_at,
  };
}

function recordFromRow(r: RecordRow): AnchorRecord {
  return {
    commitmentId: r.commitment_id,
    tenantId: r.tenant_id,
    storeId: r.store_id,
    sequenceEnd: r.sequence_end,
    status: r.status,
    txHash: hex(r.tx_hash),
    blockNumber: r.block_number ?? undefined,
    blockHash: r.block_hash === null ? undefined : hex(r.block_hash),
    submittedAt: r.submitted_at,
  };
}

export interface PgAnchorStore extends AnchorStore {
  /** The record of a commitment, if any. */
  record(commitmentId: string): Promise<AnchorRecord | undefined>;
  /** The stream's last failure, if it has one not cleared since. */
  streamFailure(stream: StreamKey): Promise<StreamFailure | undefined>;
  /** Per stream: sealed end, anchored end, final end (for the admin's anchor-lag view). */
  lag(
    limit: number,
  ): Promise<{ stream: StreamKey; sealedEnd: bigint; anchoredEnd: bigint; finalEnd: bigint }[]>;
}

export function createPgAnchorStore(
  sql: Sql,
  target: { chainId: number; contractAddress: Hex32 },
): PgAnchorStore {
  const chain = String(target.chainId);
  const contract = bytes(target.contractAddress);
  const guarded =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await f(...args);
      } catch (err) {
        throw mapPgError(err);
      }
    };
  /** Sets the stream's anchored end to its highest remaining record. */
  const rewind = async (tx: Sql, tenantId: string, storeId: string): Promise<void> => {
    await tx`
      insert into anchor_streams (chain_id, contract_address, tenant_id, store_id, anchored_end)
      values (${chain}::bigint, ${contract}, ${tenantId}, ${storeId},
              coalesce((select max(sequence_end) from commitment_anchors
                        where chain_id = ${chain}::bigint and contract_address = ${contract}
                          and tenant_id = ${tenantId} and store_id = ${storeId}), 0))
      on conflict (chain_id, contract_address, tenant_id, store_id)
      do update set anchored_end = excluded.anchored_end`;
  };

  const insertAttempt = async (tx: Sql, t: SentTx, firstHash: Hex32, at: Date): Promise<void> => {
    await tx`
      insert into anchor_tx_attempts (chain_id, contract_address, tx_hash, first_hash, sender, nonce, gas_limit,
                                      max_fee_per_gas, max_priority_fee_per_gas, calldata, sent_at)
      values (${chain}::bigint, ${contract}, ${bytes(t.txHash)}, ${bytes(firstHash)}, ${bytes(t.sender)},
              ${String(t.nonce)}::bigint, ${String(t.gas)}::bigint, ${String(t.maxFeePerGas)}::numeric,
              ${String(t.maxPriorityFeePerGas)}::numeric, ${bytes(t.data)}, ${at})`;
  };

  return {
    pending: guarded(async (limit) => {
      const rows = await sql<RecordRow[]>`
        select commitment_id, tenant_id, store_id, sequence_end, status, tx_hash, block_number, block_hash, submitted_at
        from commitment_anchors
        where chain_id = ${chain}::bigint and contract_address = ${contract} and status <> 'final'
        order by submitted_at, tenant_id, store_id, sequence_end limit ${limit}`;
      return rows.map(recordFromRow);
    }),

    candidates: guarded(async (now, limit) => {
      const rows = await sql<{ tenant_id: string; store_id: string; anchored_end: bigint }[]>`
        select s.tenant_id, s.store_id, coalesce(a.anchored_end, 0) as anchored_end
        from streams s
        join lateral (
          select c.sequence_end from commitments c
          where c.tenant_id = s.tenant_id and c.store_id = s.store_id
          order by c.sequence_end desc limit 1) c on true
        left join anchor_streams a
          on a.chain_id = ${chain}::bigint and a.contract_address = ${contract}
         and a.tenant_id = s.tenant_id and a.store_id = s.store_id
        where c.sequence_end > coalesce(a.anchored_end, 0)
          and (a.retry_at is null or a.retry_at <= ${now})
          and not exists (
            select 1 from commitment_anchors r
            where r.chain_id = ${chain}::bigint and r.contract_address = ${contract}
              and r.tenant_id = s.tenant_id and r.store_id = s.store_id and r.status = 'submitted')
        order by a.failed_at nulls first, s.tenant_id, s.store_id
        limit ${limit}`;
      return rows.map(
        (r): AnchorCandidate => ({
          stream: { tenantId: r.tenant_id, storeId: r.store_id },
          anchoredEnd: r.anchored_end,
        }),
      );
    }),

    unanchored: guarded(async (stream, afterEnd, limit) => {
      const rows = await sql<CommitmentRow[]>`
        select ${sql(COMMITMENT_COLUMNS.map((c) => `c.${c}`))} from commitments c
        where c.tenant_id = ${stream.tenantId} and c.store_id = ${stream.storeId}
          and c.sequence_start > ${String(afterEnd)}::bigint
        order by c.sequence_start limit ${limit}`;
      return rows.map(commitmentFromRow);
    }),

    recordSubmitted: guarded(async (commitments, sent, at) => {
      const txHash = sent.txHash;
      await sql.begin(async (tx) => {
        await insertAttempt(tx as unknown as Sql, sent, txHash, at);
        await tx`
          insert into commitment_anchors (chain_id, contract_address, commitment_id, tenant_id, store_id,
                                          sequence_end, status, tx_hash, submitted_at)
          select ${chain}::bigint, ${contract}, u.id, u.t, u.s, u.e, 'submitted', ${bytes(txHash)}, ${at}
          from unnest(${commitments.map((c) => c.commitmentId)}::uuid[], ${commitments.map((c) => c.tenantId)}::uuid[],
                      ${commitments.map((c) => c.storeId)}::uuid[],
                      ${commitments.map((c) => String(c.sequenceEnd))}::bigint[]) as u(id, t, s, e)`;
        const streams = new Map(commitments.map((c) => [`${c.tenantId}/${c.storeId}`, c]));
        for (const c of streams.values()) {
          await rewind(tx as unknown as Sql, c.tenantId, c.storeId);
          await tx`
            update anchor_streams set failure_reason = null, failure_message = null, failures = 0,
                   failed_at = null, retry_at = null
            where chain_id = ${chain}::bigint and contract_address = ${contract}
              and tenant_id = ${c.tenantId} and store_id = ${c.storeId}`;
        }
      });
    }),

    recordOnChain: guarded(async (c, t, status, at) => {
      await sql.begin(async (tx) => {
        await tx`
          insert into commitment_anchors (chain_id, contract_address, commitment_id, tenant_id, store_id,
                                          sequence_end, status, tx_hash, block_number, block_hash, submitted_at,
                                          included_at, final_at)
          values (${chain}::bigint, ${contract}, ${c.commitmentId}, ${c.tenantId}, ${c.storeId},
                  ${String(c.sequenceEnd)}::bigint, ${status}, ${bytes(t.txHash)}, ${String(t.blockNumber)}::bigint,
                  ${bytes(t.blockHash)}, ${at}, ${at}, ${status === "final" ? at : null})
          on conflict do nothing`;
        await rewind(tx as unknown as Sql, c.tenantId, c.storeId);
      });
    }),

    markTx: guarded(async (txHash, status, blockNumber, blockHash, at) => {
      await sql`
        update commitment_anchors
        set status = ${status}, block_number = ${String(blockNumber)}::bigint, block_hash = ${bytes(blockHash)},
            included_at = coalesce(included_at, ${at}), final_at = ${status === "final" ? at : null}
        where chain_id = ${chain}::bigint and contract_address = ${contract} and tx_hash = ${bytes(txHash)}
          and status <> 'final'`;
    }),

    attempts: guarded(async (txHash) => {
      const rows = await sql<AttemptRow[]>`
        select a.tx_hash, a.first_hash, a.sender, a.nonce, a.gas_limit, a.max_fee_per_gas::text,
               a.max_priority_fee_per_gas::text, a.calldata, a.sent_at
        from anchor_tx_attempts a
        join anchor_tx_attempts g on g.chain_id = a.chain_id and g.contract_address = a.contract_address
                                 and g.first_hash = a.first_hash
        where g.chain_id = ${chain}::bigint and g.contract_address = ${contract} and g.tx_hash = ${bytes(txHash)}
        order by a.sent_at, a.max_fee_per_gas`;
      return rows.map(attemptFromRow);
    }),

    recordReplacement: guarded(async (previousHash, sent, at) => {
      await sql.begin(async (tx) => {
        const [prev] = await tx<{ first_hash: Uint8Array }[]>`
          select first_hash from anchor_tx_attempts
          where chain_id = ${chain}::bigint and contract_address = ${contract} and tx_hash = ${bytes(previousHash)}`;
        if (prev === undefined) {
          throw new Error(`anchoring: no recorded transaction ${previousHash} to replace`);
        }
        await insertAttempt(tx as unknown as Sql, sent, hex(prev.first_hash), at);
        await tx`
          update commitment_anchors set tx_hash = ${bytes(sent.txHash)}
          where chain_id = ${chain}::bigint and contract_address = ${contract}
            and tx_hash = ${bytes(previousHash)} and status = 'submitted'`;
      });
    }),

    adoptTx: guarded(async (fromHash, minedHash) => {
      await sql`
        update commitment_anchors set tx_hash = ${bytes(minedHash)}
        where chain_id = ${chain}::bigint and contract_address = ${contract}
          and tx_hash = ${bytes(fromHash)} and status <> 'final'`;
    }),

    forgetTx: guarded(async (txHash) => {
      return sql.begin(async (tx) => {
        await tx`
          delete from anchor_tx_attempts
          where chain_id = ${chain}::bigint and contract_address = ${contract}
            and first_hash = (select first_hash from anchor_tx_attempts
                              where chain_id = ${chain}::bigint and contract_address = ${contract}
                                and tx_hash = ${bytes(txHash)})`;
        const gone = await tx<{ tenant_id: string; store_id: string }[]>`
          delete from commitment_anchors
          where chain_id = ${chain}::bigint and contract_address = ${contract} and tx_hash = ${bytes(txHash)}
            and status <> 'final'
          returning tenant_id, store_id`;
        const streams = new Map(gone.map((g) => [`${g.tenant_id}/${g.store_id}`, g]));
        for (const g of streams.values()) await rewind(tx as unknown as Sql, g.tenant_id, g.store_id);
        return gone.length;
      });
    }),

    recordFailure: guarded(async (stream, f) => {
      const [row] = await sql<{ failures: number }[]>`
        insert into anchor_streams (chain_id, contract_address, tenant_id, store_id, anchored_end,
                                    failure_reason, failure_message, failures, failed_at, retry_at)
        values (${chain}::bigint, ${contract}, ${stream.tenantId}, ${stream.storeId},
                coalesce((select max(sequence_end) from commitment_anchors
                          where chain_id = ${chain}::bigint and contract_address = ${contract}
                            and tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}), 0),
                ${f.reason}, ${f.message}, 1, ${f.failedAt}, ${f.retryAt})
        on conflict (chain_id, contract_address, tenant_id, store_id) do update
        set failure_reason = excluded.failure_reason, failure_message = excluded.failure_message,
            failures = anchor_streams.failures + 1, failed_at = excluded.failed_at, retry_at = excluded.retry_at
        returning failures`;
      return row?.failures ?? 1;
    }),

    failures: guarded(async (stream) => {
      const [row] = await sql<{ failures: number }[]>`
        select failures from anchor_streams
        where chain_id = ${chain}::bigint and contract_address = ${contract}
          and tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}`;
      return row?.failures ?? 0;
    }),

    record: guarded(async (commitmentId) => {
      const rows = await sql<RecordRow[]>`
        select commitment_id, tenant_id, store_id, sequence_end, status, tx_hash, block_number, block_hash, submitted_at
        from commitment_anchors
        where chain_id = ${chain}::bigint and contract_address = ${contract} and commitment_id = ${commitmentId}`;
      return rows[0] === undefined ? undefined : recordFromRow(rows[0]);
    }),

    streamFailure: guarded(async (stream) => {
      const [row] = await sql<
        {
          failure_reason: string | null;
          failure_message: string | null;
          failures: number;
          failed_at: Date | null;
          retry_at: Date | null;
        }[]
      >`
        select failure_reason, failure_message, failures, failed_at, retry_at from anchor_streams
        where chain_id = ${chain}::bigint and contract_address = ${contract}
          and tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}`;
      if (row?.failure_reason == null || row.failed_at === null || row.retry_at === null) return undefined;
      return {
        reason: row.failure_reason,
        message: row.failure_message ?? "",
        failures: row.failures,
        failedAt: row.failed_at,
        retryAt: row.retry_at,
      };
    }),

    lag: guarded(async (limit) => {
      const rows = await sql<
        { tenant_id: string; store_id: string; sealed_end: bigint; anchored_end: bigint; final_end: bigint }[]
      >`
        select s.tenant_id, s.store_id,
               coalesce((select max(c.sequence_end) from commitments c
                         where c.tenant_id = s.tenant_id and c.store_id = s.store_id), 0) as sealed_end,
               coalesce((select max(r.sequence_end) from commitment_anchors r
                         where r.chain_id = ${chain}::bigint and r.contract_address = ${contract}
                           and r.tenant_id = s.tenant_id and r.store_id = s.store_id
                           and r.status <> 'submitted'), 0) as anchored_end,
               coalesce((select max(r.sequence_end) from commitment_anchors r
                         where r.chain_id = ${chain}::bigint and r.contract_address = ${contract}
                           and r.tenant_id = s.tenant_id and r.store_id = s.store_id
                           and r.status = 'final'), 0) as final_end
        from streams s order by s.tenant_id, s.store_id limit ${limit}`;
      return rows.map((r) => ({
        stream: { tenantId: r.tenant_id, storeId: r.store_id },
        sealedEnd: r.sealed_end,
        anchoredEnd: r.anchored_end,
        finalEnd: r.final_end,
      }));
    }),
  };
}
