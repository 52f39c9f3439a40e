// CommitmentStore on PostgreSQL: commitments with their stored trees, sealed under a per-stream advisory lock
// (the upstream key: the first 8 bytes of stream_id, §2.6), proof siblings sliced out of the stored trees.
import type { Sql } from "postgres";
import type { CommitmentStore, EventSelector, SealedEvent, SealedLeaf, SealLock } from "../../app/ports.js";
import { nativeSha256 } from "../../crypto/native.js";
import { streamId } from "../../crypto/stateRoot.js";
import type { Commitment, StateLink } from "../../domain/commitment.js";
import type { StreamKey } from "../../domain/event.js";
import { streamKeyString } from "../../domain/streamKey.js";
import { plainArray } from "./arrayLiteral.js";
import { type EventRow, receiptFromRow } from "./eventRows.js";
import { mapPgError } from "./pgErrors.js";
import { flattenTree, levelOffset } from "./treeNodes.js";

export interface CommitmentRow {
  commitment_id: string;
  tenant_id: string;
  store_id: string;
  sequence_start: bigint;
  sequence_end: bigint;
  leaf_count: number;
  padded_leaf_count: number;
  tree_depth: number;
  merkle_root: Uint8Array;
  prev_state_root: Uint8Array;
  new_state_root: Uint8Array;
  sequencer_id: string;
  sequencer_key_id: string;
  checkpoint_hash: Uint8Array;
  signature: Uint8Array;
  committed_at: Date;
}

export const COMMITMENT_COLUMNS = [
  "commitment_id",
  "tenant_id",
  "store_id",
  "sequence_start",
  "sequence_end",
  "leaf_count",
  "padded_leaf_count",
  "tree_depth",
  "merkle_root",
  "prev_state_root",
  "new_state_root",
  "sequencer_id",
  "sequencer_key_id",
  "checkpoint_hash",
  "signature",
  "committed_at",
] as const;

export function commitmentFromRow(r: CommitmentRow): Commitment {
  return {
    commitmentId: r.commitment_id,
    tenantId: r.tenant_id,
    storeId: r.store_id,
    sequenceStart: r.sequence_start,
    sequenceEnd: r.sequence_end,
    leafCount: r.leaf_count,
    paddedLeafCount: r.padded_leaf_count,
    treeDepth: r.tree_depth,
    merkleRoot: r.merkle_root,
    prevStateRoot: r.prev_state_root,
    newStateRoot: r.new_state_root,
    sequencerId: r.sequencer_id,
    sequencerKeyId: r.sequencer_key_id,
    checkpointHash: r.checkpoint_hash,
    signature: r.signature,
    committedAt: r.committed_at,
  };
}

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

type ProofRow = EventRow & { commitment_id: string | null };

const streamColumns = (s: StreamKey) => ({ tenant_id: s.tenantId, store_id: s.storeId });

/** Concurrent single-event lookups in flight as queries, and the most one query takes. */
const LOOKUP_QUERIES = 2;
const LOOKUP_BATCH = 256;

/** One event to look up in one stream. */
interface Probe {
  readonly stream: StreamKey;
  readonly sel: EventSelector;
}

interface Lookup extends Probe {
  readonly resolve: (row: ProofRow | undefined) => void;
  readonly reject: (err: unknown) => void;
}

/** A sealed commitment with its stored tree (treeNodes.ts layout); both immutable once committed. */
interface StoredTree {
  readonly commitment: Commitment;
  readonly nodes: Uint8Array;
}

/** Sibling d of leaf i is node (i >> d) ^ 1 of level d (treeNodes.ts). */
function siblingsOf(tree: StoredTree, leafIndex: number): Uint8Array[] {
  const { paddedLeafCount, treeDepth } = tree.commitment;
  const out: Uint8Array[] = [];
  for (let d = 0; d < treeDepth; d++) {
    const node = levelOffset(paddedLeafCount, d) + ((leafIndex >> d) ^ 1);
    out.push(tree.nodes.subarray(32 * node, 32 * node + 32));
  }
  return out;
}

function sealedEventFromRow(row: ProofRow, tree: StoredTree): SealedEvent {
  return {
    eventId: row.event_id,
    sequenceNumber: row.sequence_number,
    eventSigningHash: row.event_signing_hash,
    agentSignature: row.agent_signature,
    siblings: siblingsOf(tree, Number(row.sequence_number - tree.commitment.sequenceStart)),
  };
}

export interface PgCommitmentStoreOptions {
  /**
   * Bytes of commitment trees kept in memory for proofs (least recently used out first): 64 KiB per commitment
   * of 1,024 events. Sealed trees never change, so a cached one is never stale.
   */
  readonly treeCacheBytes?: number;
}

/** The advisory-lock key that serialises sealing of a stream: stream_id's first 8 bytes as a signed BE int64. */
export function sealLockKey(stream: StreamKey): bigint {
  const sid = streamId(nativeSha256, stream.tenantId, stream.storeId);
  return new DataView(sid.buffer, sid.byteOffset, 8).getBigInt64(0, false);
}

export function createPgCommitmentStore(sql: Sql, opts: PgCommitmentStoreOptions = {}): CommitmentStore {
  const cols = (alias: string) => sql(COMMITMENT_COLUMNS.map((c) => `${alias}.${c}`));
  const cacheLimit = opts.treeCacheBytes ?? 64 * 1024 * 1024;
  const cache = new Map<string, StoredTree>(); // insertion order = recency
  let cachedBytes = 0;

  /** The trees of `ids`, from the cache or in one query for the rest. */
  const treesOf = async (ids: Iterable<string>): Promise<Map<string, StoredTree>> => {
    const found = new Map<string, StoredTree>();
    const missing = new Set<string>();
    for (const id of ids) {
      if (found.has(id)) continue;
      const hit = cache.get(id);
      if (hit === undefined) {
        missing.add(id);
        continue;
      }
      cache.delete(id);
      cache.set(id, hit);
      found.set(id, hit);
    }
    if (missing.size === 0) return found;
    const rows = await sql<(CommitmentRow & { tree_nodes: Uint8Array })[]>`
      select ${cols("c")}, c.tree_nodes from commitments c
      where c.commitment_id = any(${plainArray([...missing])}::uuid[])`;
    for (const row of rows) {
      const tree: StoredTree = { commitment: commitmentFromRow(row), nodes: row.tree_nodes };
      found.set(row.commitment_id, tree);
      if (tree.nodes.length > cacheLimit || cache.has(row.commitment_id)) continue;
      cache.set(row.commitment_id, tree);
      cachedBytes += tree.nodes.length;
      for (const [id, old] of cache) {
        if (cachedBytes <= cacheLimit) break;
        cache.delete(id);
        cachedBytes -= old.nodes.length;
      }
    }
    return found;
  };

  /**
   * The row of each probe (undefined when there is none), in order, with the id of its covering commitment
   * (null when unsealed): primary-key probes in one query per selector kind, two at most. The trees come from
   * treesOf.
   */
  const probeRows = async (probes: readonly Probe[]): Promise<(ProofRow | undefined)[]> => {
    const out: (ProofRow | undefined)[] = new Array(probes.length).fill(undefined);
    const bySeq = (p: Probe) => "sequenceNumber" in p.sel;
    const key = (p: Probe) => ("sequenceNumber" in p.sel ? String(p.sel.sequenceNumber) : p.sel.eventId);
    const kinds = [
      { at: probes.flatMap((p, i) => (bySeq(p) ? [i] : [])), match: sql`e.sequence_number = q.k::bigint` },
      { at: probes.flatMap((p, i) => (bySeq(p) ? [] : [i])), match: sql`e.event_id = q.k::uuid` },
    ].filter((k) => k.at.length > 0);
    await Promise.all(
      kinds.map(async ({ at, match }) => {
        const ps = at.map((i) => probes[i] as Probe);
        const rows = await sql<(ProofRow & { i: bigint })[]>`
          select q.i, e.event_id, e.sequence_number, e.event_signing_hash, e.agent_signature, e.sequenced_at,
                 e.sequencer_id, e.sequencer_key_id, e.receipt_hash, e.sequencer_signature, c.commitment_id
          from unnest(${plainArray(ps.map((p) => p.stream.tenantId))}::uuid[],
                      ${plainArray(ps.map((p) => p.stream.storeId))}::uuid[],
                      ${plainArray(ps.map(key))}::text[]) with ordinality as q(t, s, k, i)
          join lateral (
            select * from events e where e.tenant_id = q.t and e.store_id = q.s and ${match}) e on true
          left join lateral (
            select c.commitment_id, c.sequence_end from commitments c
            where c.tenant_id = q.t and c.store_id = q.s and c.sequence_start <= e.sequence_number
            order by c.sequence_start desc limit 1) c on c.sequence_end >= e.sequence_number`;
        for (const row of rows) out[at[Number(row.i) - 1] as number] = row;
      }),
    );
    return out;
  };

  /**
   * Single-event lookups (one per GetInclusionProof) coalesced: while LOOKUP_QUERIES probe queries are running,
   * new lookups wait and then go together, so a burst of concurrent calls costs a few round trips instead of one
   * each. A lone call still goes at once.
   */
  const waiting: Lookup[] = [];
  let running = 0;
  const lookupRow = (stream: StreamKey, sel: EventSelector): Promise<ProofRow | undefined> =>
    new Promise((resolve, reject) => {
      waiting.push({ stream, sel, resolve, reject });
      pump();
    });
  const pump = (): void => {
    while (running < LOOKUP_QUERIES && waiting.length > 0) {
      const batch = waiting.splice(0, LOOKUP_BATCH);
      running++;
      probeRows(batch)
        .then(
          (rows) => {
            for (const [i, l] of batch.entries()) l.resolve(rows[i]);
          },
          (err: unknown) => {
            for (const l of batch) l.reject(err);
          },
        )
        .finally(() => {
          running--;
          pump();
        });
    }
  };

  /** Scattered events: their rows, and the trees of their commitments (cached). */
  const inclusionBySlices = async (stream: StreamKey, sequenceNumbers: readonly bigint[]) => {
    const wanted = [...new Set(sequenceNumbers)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const rows = await probeRows(wanted.map((n) => ({ stream, sel: { sequenceNumber: n } })));
    const sealed = rows.filter(
      (r): r is ProofRow & { commitment_id: string } => r !== undefined && r.commitment_id != null,
    );
    const trees = await treesOf(sealed.map((r) => r.commitment_id));
    const groups: { commitment: Commitment; events: SealedEvent[] }[] = [];
    for (const row of sealed) {
      const tree = trees.get(row.commitment_id) as StoredTree;
      const last = groups.at(-1);
      if (last !== undefined && last.commitment.commitmentId === row.commitment_id) {
        last.events.push(sealedEventFromRow(row, tree));
      } else {
        groups.push({ commitment: tree.commitment, events: [sealedEventFromRow(row, tree)] });
      }
    }
    return groups;
  };

  /** Every commitment covering one of `sequenceNumbers`, with the leaf inputs of all its events. */
  const sealedRanges = async (stream: StreamKey, sequenceNumbers: readonly bigint[]) => {
    const { tenantId: t, storeId: s } = stream;
    const commitments = await sql<CommitmentRow[]>`
      select ${cols("c")} from commitments c
      where c.commitment_id in (
        select k.commitment_id from unnest(${plainArray(sequenceNumbers)}::bigint[]) as q(seq)
        cross join lateral (
          select k.commitment_id, k.sequence_end from commitments k
          where k.tenant_id = ${t} and k.store_id = ${s} and k.sequence_start <= q.seq
          order by k.sequence_start desc limit 1) k
        where k.sequence_end >= q.seq)
      order by c.sequence_start`;
    if (commitments.length === 0) return [];
    const events = await sql<
      {
        event_id: string;
        sequence_number: bigint;
        event_signing_hash: Uint8Array;
        agent_signature: Uint8Array;
      }[]
    >`
      select e.event_id, e.sequence_number, e.event_signing_hash, e.agent_signature
      from unnest(${plainArray(commitments.map((c) => c.sequence_start))}::bigint[],
                  ${plainArray(commitments.map((c) => c.sequence_end))}::bigint[]) as r(a, b)
      join events e on e.tenant_id = ${t} and e.store_id = ${s} and e.sequence_number between r.a and r.b
      order by e.sequence_number`;
    let i = 0;
    return commitments.map((c) => {
      const group: SealedLeaf[] = [];
      for (
        ;
        i < events.length && (events[i] as (typeof events)[number]).sequence_number <= c.sequence_end;
        i++
      ) {
        const e = events[i] as (typeof events)[number];
        group.push({
          eventId: e.event_id,
          sequenceNumber: e.sequence_number,
          eventSigningHash: e.event_signing_hash,
          agentSignature: e.agent_signature,
        });
      }
      return { commitment: commitmentFromRow(c), events: group };
    });
  };

  const guarded =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await f(...args);
      } catch (err) {
        throw mapPgError(err);
      }
    };

  return {
    sealCandidates: guarded(async (limit) => {
      const rows = await sql<
        { tenant_id: string; store_id: string; head: bigint; sealed_end: bigint; sequenced_at: Date | null }[]
      >`
        select s.tenant_id, s.store_id, s.head, coalesce(c.sequence_end, 0) as sealed_end,
               -- A primary-key probe per stream: a join here let stale statistics pick a scan of events.
               (select e.sequenced_at from events e
                where e.tenant_id = s.tenant_id and e.store_id = s.store_id
                  and e.sequence_number = coalesce(c.sequence_end, 0) + 1) as sequenced_at
        from streams s
        left join lateral (
          select c.sequence_end from commitments c
          where c.tenant_id = s.tenant_id and c.store_id = s.store_id
          order by c.sequence_end desc limit 1) c on true
        where s.head > coalesce(c.sequence_end, 0)
        order by sequenced_at nulls first
        limit ${limit}`;
      return rows.map((r) => ({
        stream: { tenantId: r.tenant_id, storeId: r.store_id },
        head: r.head,
        sealedEnd: r.sealed_end,
        firstUnsealedAt: r.sequenced_at ?? undefined,
      }));
    }),

    withSealLock: guarded(async (stream, fn) => {
      const { tenantId: t, storeId: s } = stream;
      return sql.begin(async (tx) => {
        const [lock] = await tx<{ acquired: boolean }[]>`
          select pg_try_advisory_xact_lock(${String(sealLockKey(stream))}::bigint) as acquired`;
        if (lock?.acquired !== true) return { acquired: false as const };
        const [row] = await tx<
          {
            head: bigint;
            sequence_end: bigint | null;
            new_state_root: Uint8Array | null;
            sequenced_at: Date | null;
          }[]
        >`
          select s.head, c.sequence_end, c.new_state_root,
                 (select e.sequenced_at from events e
                  where e.tenant_id = s.tenant_id and e.store_id = s.store_id
                    and e.sequence_number = coalesce(c.sequence_end, 0) + 1) as sequenced_at
          from streams s
          left join lateral (
            select c.sequence_end, c.new_state_root from commitments c
            where c.tenant_id = s.tenant_id and c.store_id = s.store_id
            order by c.sequence_end desc limit 1) c on true
          where s.tenant_id = ${t} and s.store_id = ${s}`;
        const tip =
          row?.sequence_end === null || row?.sequence_end === undefined || row.new_state_root === null
            ? undefined
            : { sequenceEnd: row.sequence_end, newStateRoot: row.new_state_root };
        const sealLock: SealLock = {
          head: row?.head ?? 0n,
          sealedEnd: tip?.sequenceEnd ?? 0n,
          firstUnsealedAt: row?.sequenced_at ?? undefined,
          tip,
          async leaves(start, end) {
            const rows = await tx<
              { sequence_number: bigint; event_signing_hash: Uint8Array; agent_signature: Uint8Array }[]
            >`
              select sequence_number, event_signing_hash, agent_signature from events
              where tenant_id = ${t} and store_id = ${s}
                and sequence_number between ${String(start)}::bigint and ${String(end)}::bigint
              order by sequence_number`;
            return rows.map((r) => ({
              sequenceNumber: r.sequence_number,
              eventSigningHash: r.event_signing_hash,
              agentSignature: r.agent_signature,
            }));
          },
          async insert(c, tree) {
            await tx`
              insert into commitments (
                commitment_id, tenant_id, store_id, sequence_start, sequence_end, leaf_count, padded_leaf_count,
                tree_depth, merkle_root, prev_state_root, new_state_root, sequencer_id, sequencer_key_id,
                checkpoint_hash, signature, committed_at, tree_nodes)
              values (
                ${c.commitmentId}, ${c.tenantId}, ${c.storeId}, ${String(c.sequenceStart)}::bigint,
                ${String(c.sequenceEnd)}::bigint, ${c.leafCount}, ${c.paddedLeafCount}, ${c.treeDepth},
                ${buf(c.merkleRoot)}, ${buf(c.prevStateRoot)}, ${buf(c.newStateRoot)}, ${c.sequencerId},
                ${c.sequencerKeyId}, ${buf(c.checkpointHash)}, ${buf(c.signature)}, ${c.committedAt},
                ${buf(flattenTree(tree))})`;
          },
        };
        return { acquired: true as const, value: await fn(sealLock) };
      });
    }),

    get: guarded(async (stream, sel) => {
      const { tenantId: t, storeId: s } = stream;
      if ("commitmentId" in sel) {
        const rows = await sql<CommitmentRow[]>`
          select ${cols("c")} from commitments c
          where c.tenant_id = ${t} and c.store_id = ${s} and c.commitment_id = ${sel.commitmentId}`;
        return rows[0] === undefined ? undefined : commitmentFromRow(rows[0]);
      }
      const rows = await sql<CommitmentRow[]>`
        select ${cols("c")} from commitments c
        where c.tenant_id = ${t} and c.store_id = ${s} and c.sequence_start <= ${String(sel.sequenceNumber)}::bigint
        order by c.sequence_start desc limit 1`;
      const row = rows[0];
      return row === undefined || row.sequence_end < sel.sequenceNumber ? undefined : commitmentFromRow(row);
    }),

    list: guarded(async (stream, after, limit) => {
      const rows = await sql<CommitmentRow[]>`
        select ${cols("c")} from commitments c
        where c.tenant_id = ${stream.tenantId} and c.store_id = ${stream.storeId}
          and c.sequence_start > ${String(after)}::bigint
        order by c.sequence_start limit ${limit}`;
      return rows.map(commitmentFromRow);
    }),

    syncState: guarded(async (stream) => {
      const { tenantId: t, storeId: s } = stream;
      const [row] = await sql<({ head: bigint } & Partial<CommitmentRow>)[]>`
        select coalesce((select head from streams where tenant_id = ${t} and store_id = ${s}), 0) as head,
               ${cols("c")}
        from (select 1) one
        left join lateral (
          select * from commitments c where c.tenant_id = ${t} and c.store_id = ${s}
          order by c.sequence_end desc limit 1) c on true`;
      return {
        head: row?.head ?? 0n,
        latest: row?.commitment_id == null ? undefined : commitmentFromRow(row as CommitmentRow),
      };
    }),

    sealedEnds: guarded(async (streams) => {
      if (streams.length === 0) return new Map();
      const rows = await sql<{ tenant_id: string; store_id: string; sealed_end: bigint }[]>`
        select k.tenant_id, k.store_id,
               coalesce((select c.sequence_end from commitments c
                         where c.tenant_id = k.tenant_id and c.store_id = k.store_id
                         order by c.sequence_end desc limit 1), 0) as sealed_end
        from unnest(${plainArray(streams.map((x) => x.tenantId))}::uuid[],
                    ${plainArray(streams.map((x) => x.storeId))}::uuid[]) as k(tenant_id, store_id)`;
      return new Map(
        rows.map((r) => [streamKeyString({ tenantId: r.tenant_id, storeId: r.store_id }), r.sealed_end]),
      );
    }),

    inclusion: guarded(async (stream, sel) => {
      const row = await lookupRow(stream, sel);
      if (row === undefined) return { kind: "not_found" as const };
      if (row.commitment_id == null) {
        return { kind: "unsealed" as const, eventId: row.event_id, sequenceNumber: row.sequence_number };
      }
      const tree = (await treesOf([row.commitment_id])).get(row.commitment_id) as StoredTree;
      return {
        kind: "sealed" as const,
        event: sealedEventFromRow(row, tree),
        receipt: receiptFromRow({ ...row, ...streamColumns(stream) }),
        commitment: tree.commitment,
      };
    }),

    inclusionSlices: guarded(inclusionBySlices),

    sealedRanges: guarded(sealedRanges),

    stateLinks: guarded(async (stream, afterEnd, toEnd, limit) => {
      const rows = await sql<
        { sequence_start: bigint; sequence_end: bigint; leaf_count: number; merkle_root: Uint8Array }[]
      >`
        select sequence_start, sequence_end, leaf_count, merkle_root from commitments
        where tenant_id = ${stream.tenantId} and store_id = ${stream.storeId}
          and sequence_start > ${String(afterEnd)}::bigint and sequence_end <= ${String(toEnd)}::bigint
        order by sequence_start limit ${limit}`;
      return rows.map(
        (r): StateLink => ({
          sequenceStart: r.sequence_start,
          sequenceEnd: r.sequence_end,
          leafCount: r.leaf_count,
          merkleRoot: r.merkle_root,
        }),
      );
    }),
  };
}
