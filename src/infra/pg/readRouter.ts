// Read routing over PostgreSQL hot standbys (streaming replication): reads of the committed log, commitments
// and proofs go to a replica that has applied what they need; everything else, and whatever a replica cannot
// serve in time, goes to the primary. A health check measures each replica's replay lag against the primary's
// WAL position and takes it out of rotation when it is unreachable, promoted, or lags past a bound.
import type { Sql } from "postgres";
import type { CommitmentStore, EventReader } from "../../app/ports.js";
import type { StreamKey } from "../../domain/event.js";
import { streamKeyString } from "../../domain/event.js";

export interface ReplicaSource {
  /** Label for metrics and logs (never a URL with credentials). */
  readonly name: string;
  readonly sql: Sql;
  readonly reader: EventReader;
  readonly commitments: CommitmentStore;
}

export interface ReadRouterOptions {
  readonly primary: {
    readonly sql: Sql;
    readonly reader: EventReader;
    readonly commitments: CommitmentStore;
  };
  readonly replicas: readonly ReplicaSource[];
  /** A replica whose replay is this far behind the primary's WAL is taken out of rotation. */
  readonly maxLagMs: number;
  /** How long a read waits for a replica to apply what it needs before the primary serves it. */
  readonly waitMs: number;
  /** How often each replica's lag is measured. */
  readonly checkMs: number;
  readonly observer?: ReadRouterObserver;
}

export interface ReadRouterObserver {
  /** One query served by `target` ("primary" or a replica's name). */
  read?(target: string): void;
  /** A read a replica could not serve went to the primary: "behind" (not applied in time) or "error". */
  fellBack?(replica: string, reason: "behind" | "error"): void;
  /** A replica's measured lag (undefined: unknown, e.g. unreachable). */
  lag?(replica: string, lagMs: number | undefined): void;
  /** A replica entered or left the rotation, with why. */
  rotation?(replica: string, inRotation: boolean, why: string, err?: unknown): void;
}

export interface ReplicaStatus {
  readonly name: string;
  readonly inRotation: boolean;
  readonly lagMs: number | undefined;
}

export interface ReadRouter {
  /** The event reader that spreads reads over the replicas (EventReader.route), the primary as fallback. */
  readonly reader: EventReader;
  /** Commitments and proofs from the replicas; sealing and anything missing on a replica go to the primary. */
  readonly commitments: CommitmentStore;
  status(): ReplicaStatus[];
  /** Measures every replica now (also run every checkMs once started). */
  check(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Replica {
  readonly source: ReplicaSource;
  inRotation: boolean;
  lagMs: number | undefined;
  /** The highest head this replica was seen to have applied, per stream (heads only grow on a standby). */
  readonly heads: Map<string, bigint>;
}

const MAX_CACHED_HEADS = 100_000;
const MAX_LSN_SAMPLES = 4096;

/** A pg_lsn ("16/B374D848") as a number of bytes. */
export function parseLsn(lsn: string): bigint {
  const [hi, lo] = lsn.split("/");
  if (hi === undefined || lo === undefined) throw new RangeError(`not an LSN: ${lsn}`);
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/** A stable pick among n for a stream, so one stream's reads stay on one replica while the rotation holds. */
function affinity(key: string, n: number): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % n;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]);
}

export function createReadRouter(opts: ReadRouterOptions): ReadRouter {
  const { primary, observer = {} } = opts;
  const replicas: Replica[] = opts.replicas.map((source) => ({
    source,
    inRotation: false,
    lagMs: undefined,
    heads: new Map(),
  }));
  /** The primary's WAL position over time, oldest first: the lag is how long ago it was where a replica is. */
  const samples: { at: number; lsn: bigint }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<void> | undefined;
  let stopped = false;

  const setRotation = (r: Replica, inRotation: boolean, why: string, err?: unknown): void => {
    if (r.inRotation !== inRotation) {
      r.heads.clear();
      observer.rotation?.(r.source.name, inRotation, why, err);
    }
    r.inRotation = inRotation;
  };

  const lagOf = (replayLsn: bigint, now: number): number | undefined => {
    const last = samples[samples.length - 1];
    if (last === undefined) return undefined;
    if (replayLsn >= last.lsn) return 0;
    const behind = samples.find((s) => s.lsn > replayLsn);
    return behind === undefined ? 0 : now - behind.at;
  };

  const checkReplica = async (r: Replica): Promise<void> => {
    try {
      const rows = await withTimeout(
        r.source.sql<{ recovery: boolean; lsn: string | null }[]>`
          select pg_is_in_recovery() as recovery, pg_last_wal_replay_lsn()::text as lsn`,
        Math.max(opts.checkMs, 1000),
        `replica ${r.source.name}`,
      );
      const row = rows[0];
      if (row === undefined || !row.recovery || row.lsn === null) {
        r.lagMs = undefined;
        observer.lag?.(r.source.name, undefined);
        setRotation(r, false, "not a hot standby (promoted, or not replaying)");
        return;
      }
      const lag = lagOf(parseLsn(row.lsn), Date.now());
      r.lagMs = lag;
      observer.lag?.(r.source.name, lag);
      if (lag === undefined) {
        // The primary's position is unknown (the primary is unreachable): keep the replica as it was.
        return;
      }
      if (lag > opts.maxLagMs)
        setRotation(r, false, `replay lag ${lag} ms > REPLICA_MAX_LAG_MS ${opts.maxLagMs}`);
      else setRotation(r, true, `replay lag ${lag} ms`);
    } catch (err) {
      r.lagMs = undefined;
      observer.lag?.(r.source.name, undefined);
      setRotation(r, false, "unreachable", err);
    }
  };

  const check = (): Promise<void> => {
    checking ??= (async () => {
      try {
        const rows = await withTimeout(
          primary.sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`,
          Math.max(opts.checkMs, 1000),
          "primary",
        );
        const lsn = rows[0]?.lsn;
        if (lsn !== undefined) {
          samples.push({ at: Date.now(), lsn: parseLsn(lsn) });
          if (samples.length > MAX_LSN_SAMPLES) samples.splice(0, samples.length - MAX_LSN_SAMPLES);
        }
      } catch {
        // Primary unreachable: lags are unknown until it answers again.
      }
      await Promise.all(replicas.map(checkReplica));
    })().finally(() => {
      checking = undefined;
    });
    return checking;
  };

  const onReplicaError = (r: Replica): void => {
    observer.fellBack?.(r.source.name, "error");
    if (!stopped) void check();
  };

  const pick = (stream: StreamKey): Replica | undefined => {
    const live = replicas.filter((r) => r.inRotation);
    if (live.length === 0) return undefined;
    return live[affinity(streamKeyString(stream), live.length)];
  };

  const noteHead = (r: Replica, key: string, head: bigint): void => {
    if ((r.heads.get(key) ?? -1n) >= head) return;
    if (r.heads.size >= MAX_CACHED_HEADS) r.heads.clear();
    r.heads.set(key, head);
  };

  /** True once `r` has applied `stream` up to `need`, waiting up to waitMs; false when it has not by then. */
  const caughtUp = async (r: Replica, stream: StreamKey, need: bigint): Promise<boolean> => {
    if (need <= 0n) return true;
    const key = streamKeyString(stream);
    if ((r.heads.get(key) ?? 0n) >= need) return true;
    const deadline = Date.now() + opts.waitMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
      observer.read?.(r.source.name);
      const head = await r.source.reader.head(stream);
      noteHead(r, key, head);
      if (head >= need) return true;
      const left = deadline - Date.now();
      if (left <= 0 || !r.inRotation) return false;
      await sleep(Math.min(pause, left));
    }
  };

  const countPrimary = <T>(p: Promise<T>): Promise<T> => {
    observer.read?.("primary");
    return p;
  };

  const primaryReader: EventReader = {
    head: (s) => countPrimary(primary.reader.head(s)),
    heads: (s) => countPrimary(primary.reader.heads(s)),
    read: (s, range, f) => countPrimary(primary.reader.read(s, range, f)),
    entityVersion: (s, t, id) => countPrimary(primary.reader.entityVersion(s, t, id)),
    entityEvents: (s, t, id, range) => countPrimary(primary.reader.entityEvents(s, t, id, range)),
  };

  /**
   * Runs `fn` on the replica, or on the primary when the replica fails or has left the rotation since the
   * reader was bound to it (a long subscription outlives a replica's health).
   */
  const onReplica = async <T>(r: Replica, fn: () => Promise<T>, fallback: () => Promise<T>): Promise<T> => {
    if (!r.inRotation) return fallback();
    observer.read?.(r.source.name);
    try {
      return await fn();
    } catch {
      onReplicaError(r);
      return fallback();
    }
  };

  /** A reader bound to replica `r`: every read past what it has applied waits for it or goes to the primary. */
  const boundReader = (r: Replica): EventReader => ({
    head: (s) =>
      onReplica(
        r,
        async () => {
          const head = await r.source.reader.head(s);
          noteHead(r, streamKeyString(s), head);
          return head;
        },
        () => primaryReader.head(s),
      ),
    heads: (s) =>
      onReplica(
        r,
        () => r.source.reader.heads(s),
        () => primaryReader.heads(s),
      ),
    async read(s, range, f) {
      if (!r.inRotation) return primaryReader.read(s, range, f);
      let ready: boolean;
      try {
        ready = await caughtUp(r, s, range.to);
      } catch {
        onReplicaError(r);
        return primaryReader.read(s, range, f);
      }
      if (!ready) {
        observer.fellBack?.(r.source.name, "behind");
        return primaryReader.read(s, range, f);
      }
      return onReplica(
        r,
        () => r.source.reader.read(s, range, f),
        () => primaryReader.read(s, range, f),
      );
    },
    entityVersion: (s, t, id) =>
      onReplica(
        r,
        () => r.source.reader.entityVersion(s, t, id),
        () => primaryReader.entityVersion(s, t, id),
      ),
    // Versions up to one read from this replica (the caller's bound) are all applied here.
    entityEvents: (s, t, id, range) =>
      onReplica(
        r,
        () => r.source.reader.entityEvents(s, t, id, range),
        () => primaryReader.entityEvents(s, t, id, range),
      ),
  });

  const route = async (stream: StreamKey, atLeast: bigint | "latest"): Promise<EventReader> => {
    if (atLeast === "latest") return primaryReader;
    const r = pick(stream);
    if (r === undefined) return primaryReader;
    try {
      if (await caughtUp(r, stream, atLeast)) return boundReader(r);
      observer.fellBack?.(r.source.name, "behind");
    } catch {
      onReplicaError(r);
    }
    return primaryReader;
  };

  /** Per call: the stream's replica, else the primary. */
  const readerOf = (s: StreamKey): EventReader => {
    const r = pick(s);
    return r === undefined ? primaryReader : boundReader(r);
  };
  const reader: EventReader = {
    head: (s) => readerOf(s).head(s),
    heads: (s) => primaryReader.heads(s),
    read: (s, range, f) => readerOf(s).read(s, range, f),
    entityVersion: (s, t, id) => readerOf(s).entityVersion(s, t, id),
    entityEvents: (s, t, id, range) => readerOf(s).entityEvents(s, t, id, range),
    route,
  };

  /**
   * A commitment read on the stream's replica; `complete` says whether the replica's answer can be trusted
   * (something missing there may just not be applied yet), otherwise the primary answers.
   */
  const commitmentRead = async <T>(
    stream: StreamKey,
    onStore: (store: CommitmentStore) => Promise<T>,
    complete: (value: T) => boolean,
  ): Promise<T> => {
    const r = pick(stream);
    const fromPrimary = (): Promise<T> => countPrimary(onStore(primary.commitments));
    if (r === undefined) return fromPrimary();
    observer.read?.(r.source.name);
    let value: T;
    try {
      value = await onStore(r.source.commitments);
    } catch {
      onReplicaError(r);
      return fromPrimary();
    }
    if (complete(value)) return value;
    observer.fellBack?.(r.source.name, "behind");
    return fromPrimary();
  };
  const always = (): boolean => true;

  const commitments: CommitmentStore = {
    // Sealing writes: the primary only.
    sealCandidates: (limit) => primary.commitments.sealCandidates(limit),
    withSealLock: (stream, fn) => primary.commitments.withSealLock(stream, fn),
    sealedEnds: (streams) => primary.commitments.sealedEnds(streams),
    get: (stream, sel) =>
      commitmentRead(
        stream,
        (c) => c.get(stream, sel),
        (v) => v !== undefined,
      ),
    // A replica's list and sync state are a consistent state it has applied (never beyond it).
    list: (stream, after, limit) => commitmentRead(stream, (c) => c.list(stream, after, limit), always),
    syncState: (stream) => commitmentRead(stream, (c) => c.syncState(stream), always),
    inclusion: (stream, sel) =>
      commitmentRead(
        stream,
        (c) => c.inclusion(stream, sel),
        (v) => v.kind === "sealed",
      ),
    inclusionSlices: (stream, seqs) =>
      commitmentRead(
        stream,
        (c) => c.inclusionSlices(stream, seqs),
        (groups) => groups.reduce((n, g) => n + g.events.length, 0) >= new Set(seqs).size,
      ),
    sealedRanges: (stream, seqs) =>
      commitmentRead(
        stream,
        (c) => c.sealedRanges(stream, seqs),
        (ranges) =>
          seqs.every((q) =>
            ranges.some((g) => g.commitment.sequenceStart <= q && q <= g.commitment.sequenceEnd),
          ),
      ),
    stateLinks: (stream, afterEnd, toEnd, limit) =>
      commitmentRead(
        stream,
        (c) => c.stateLinks(stream, afterEnd, toEnd, limit),
        (links) => links.length >= limit || (links.at(-1)?.sequenceEnd ?? afterEnd) >= toEnd,
      ),
  };

  return {
    reader,
    commitments,
    status: () => replicas.map((r) => ({ name: r.source.name, inRotation: r.inRotation, lagMs: r.lagMs })),
    check,
    async start() {
      await check();
      timer = setInterval(() => void check(), opts.checkMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      await checking?.catch(() => {});
    },
  };
}
