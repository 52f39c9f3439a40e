// Agent SDK for Node.js: a durable outbox in a local SQLite file (better-sqlite3). `append` commits the signed
// event locally and returns; a sync loop ships waiting events through the producer whenever the sequencer is
// reachable and stores each verified receipt beside its event. A crash at any point loses nothing: unacknowledged
// events are resent unchanged on restart, and the sequencer's exact-replay rule (ves-protocol.md §4, §16.6)
// returns the stored receipt for any that had landed, so each event is in the log exactly once, in order.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import { EventSchema, type Receipt, ReceiptSchema } from "../../gen/ves/sequencer/v1/event_pb.js";
import { AgentError } from "../client/agentError.js";
import type { Agent, AgentEvent } from "../client/createAgent.js";
import { type SigningCrypto, signEvent } from "../client/signEvent.js";
import { signedEventFromProto, signedEventToProto } from "../client/toProto.js";
import { type CreateNodeAgentOptions, createAgent, nodeCrypto } from "./createAgent.js";

export type CreateOutboxOptions = CreateNodeAgentOptions & {
  /** The SQLite file (created if missing). */
  readonly path: string;
  /** Events handed to the producer at a time (default 2,000). */
  readonly syncWindow?: number;
  /** Start shipping at once (default true); otherwise call `start()`. */
  readonly autoStart?: boolean;
};

export interface OutboxStatus {
  /** Events committed locally and not yet acknowledged by the sequencer. */
  readonly waiting: number;
  /** Events the sequencer rejected (or whose receipt did not verify); kept with their error, never resent. */
  readonly failed: number;
  readonly acknowledged: number;
  /** The last acknowledged event in outbox order, or null. */
  readonly lastAcknowledged: { readonly eventId: string; readonly sequence: bigint } | null;
  readonly syncing: boolean;
  readonly connected: boolean;
}

export interface OutboxEntry {
  readonly eventId: string;
  /** Position in the outbox (append order). */
  readonly position: number;
}

export interface StoredOutcome {
  readonly eventId: string;
  readonly receipt: Receipt | undefined;
  readonly error: string | undefined;
}

export interface Outbox {
  /** Signs the event and commits it to the outbox (durably) before returning. */
  append(event: AgentEvent): OutboxEntry;
  /** Many events in one local transaction (much faster than one by one). */
  appendMany(events: readonly AgentEvent[]): OutboxEntry[];
  /** Starts the sync loop (idempotent). */
  start(): void;
  /** Resolves when every event appended so far is acknowledged or failed. */
  drain(): Promise<void>;
  status(): OutboxStatus;
  /** The stored receipt or error of an event. */
  outcome(eventId: string): StoredOutcome | undefined;
  /** Stops syncing at once (events in flight stay waiting, resent by the next run) and closes the file. */
  close(): Promise<void>;
}

const SCHEMA = `
create table if not exists outbox (
  position integer primary key autoincrement,
  event_id text not null unique,
  event blob not null,           -- the signed Event (protobuf binary), sent unchanged on every attempt
  signing_hash blob not null,
  receipt blob,                  -- the verified Receipt (protobuf binary) once acknowledged
  replayed integer,
  error text                     -- why the sequencer refused it (never resent)
);
create index if not exists outbox_waiting on outbox (position) where receipt is null and error is null;
`;

export function createOutbox(opts: CreateOutboxOptions): Outbox {
  const { path, syncWindow = 2_000, autoStart = true, ...agentOptions } = opts;
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL"); // an append that returned survives a power loss
  db.exec(SCHEMA);
  const crypto: SigningCrypto = opts.crypto ?? nodeCrypto();
  const agent: Agent = createAgent({ ...agentOptions, crypto } as CreateNodeAgentOptions);
  const stream = {
    tenantId: opts.tenantId.toLowerCase(),
    storeId: opts.storeId.toLowerCase(),
    sourceAgentId: opts.sourceAgentId.toLowerCase(),
    agentKeyId: opts.agentKeyId,
  };

  const insert = db.prepare<[string, Uint8Array, Uint8Array]>(
    "insert into outbox (event_id, event, signing_hash) values (?, ?, ?)",
  );
  const nextWaiting = db.prepare<[number, number], { position: number; event: Buffer; signing_hash: Buffer }>(
    `select position, event, signing_hash from outbox
     where receipt is null and error is null and position > ? order by position limit ?`,
  );
  const saveReceipt = db.prepare<[Uint8Array, number, string]>(
    "update outbox set receipt = ?, replayed = ? where event_id = ?",
  );
  const saveError = db.prepare<[string, string]>("update outbox set error = ? where event_id = ?");
  const counts = db.prepare<[], { waiting: number; failed: number; acknowledged: number }>(
    `select count(*) filter (where receipt is null and error is null) as waiting,
            count(*) filter (where error is not null) as failed,
            count(*) filter (where receipt is not null) as acknowledged from outbox`,
  );
  const lastAck = db.prepare<[], { event_id: string; receipt: Buffer }>(
    "select event_id, receipt from outbox where receipt is not null order by position desc limit 1",
  );
  const one = db.prepare<[string], { receipt: Buffer | null; error: string | null }>(
    "select receipt, error from outbox where event_id = ?",
  );

  function store(events: readonly AgentEvent[]): OutboxEntry[] {
    const signed = events.map((e) => signEvent({ ...e, ...stream }, opts.signer, crypto));
    const rows = db.transaction(() =>
      signed.map((s) => {
        const r = insert.run(s.eventId, toBinary(EventSchema, signedEventToProto(s)), s.signingHash);
        return { eventId: s.eventId, position: Number(r.lastInsertRowid) };
      }),
    )();
    wake?.();
    return rows;
  }

  let running = false;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const idleWaiters: (() => void)[] = [];
  let fatal: AgentError | undefined;

  // Outcomes are written in one transaction per tick (a batch's answers arrive together), not one fsync each.
  // Losing unwritten ones in a crash is harmless: the events are resent and come back as exact replays.
  type Outcome =
    | { readonly eventId: string; readonly receipt: Uint8Array; readonly replayed: boolean }
    | { readonly eventId: string; readonly error: string };
  let toSave: Outcome[] = [];
  const writeOutcomes = db.transaction((rows: Outcome[]) => {
    for (const r of rows) {
      if ("receipt" in r) saveReceipt.run(r.receipt, r.replayed ? 1 : 0, r.eventId);
      else saveError.run(r.error, r.eventId);
    }
  });
  function save(o: Outcome): void {
    if (toSave.length === 0) setImmediate(flushOutcomes);
    toSave.push(o);
  }
  function flushOutcomes(): void {
    const rows = toSave;
    toSave = [];
    if (rows.length > 0 && db.open) writeOutcomes(rows);
  }

  const idle = (): boolean => {
    flushOutcomes();
    return (counts.get()?.waiting ?? 0) === 0;
  };

  async function sync(): Promise<void> {
    let after = 0; // highest position handed to the producer in this process
    const inFlight = new Set<Promise<void>>();
    while (!stopping) {
      const rows = nextWaiting.all(after, syncWindow);
      if (rows.length === 0) {
        if (inFlight.size > 0) {
          await Promise.race(inFlight);
          continue;
        }
        flushOutcomes();
        for (const w of idleWaiters.splice(0)) w();
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      for (const row of rows) {
        if (stopping) break;
        try {
          await agent.ready();
        } catch (err) {
          fatal ??= err instanceof AgentError ? err : new AgentError("unavailable", String(err));
          stopping = true;
          break;
        }
        after = row.position;
        const signed = signedEventFromProto(
          fromBinary(EventSchema, row.event),
          new Uint8Array(row.signing_hash),
        );
        const p = agent.appendSigned(signed).then(
          (r) => {
            save({
              eventId: signed.eventId,
              receipt: toBinary(ReceiptSchema, r.receipt),
              replayed: r.replayed,
            });
          },
          (err: unknown) => {
            const e = err instanceof AgentError ? err : undefined;
            if (
              e !== undefined &&
              (e.reason === "rejected" || e.reason === "batch_refused" || e.reason === "bad_receipt")
            ) {
              save({
                eventId: signed.eventId,
                error: `${e.reason}: ${e.rejection ?? e.code ?? ""}: ${e.message}`,
              });
            } else {
              fatal ??= e ?? new AgentError("unavailable", String(err));
              stopping = true; // the producer stopped (credential refused, closed, gave up): leave it waiting
            }
          },
        );
        const tracked: Promise<void> = p.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
    }
    await Promise.allSettled(inFlight);
    flushOutcomes();
    for (const w of idleWaiters.splice(0)) w();
  }

  const outbox: Outbox = {
    append(event) {
      return store([event])[0] as OutboxEntry;
    },
    appendMany(events) {
      return store(events);
    },
    start() {
      if (running) return;
      running = true;
      stopping = false;
      loop = sync();
    },
    async drain() {
      if (fatal !== undefined) throw fatal;
      if (idle()) return;
      if (!running) outbox.start();
      await new Promise<void>((resolve) => idleWaiters.push(resolve));
      if (fatal !== undefined) throw fatal;
    },
    status() {
      flushOutcomes();
      const c = counts.get() ?? { waiting: 0, failed: 0, acknowledged: 0 };
      const last = lastAck.get();
      const s = agent.stats();
      return {
        waiting: c.waiting,
        failed: c.failed,
        acknowledged: c.acknowledged,
        lastAcknowledged:
          last === undefined
            ? null
            : { eventId: last.event_id, sequence: fromBinary(ReceiptSchema, last.receipt).sequenceNumber },
        syncing: running && !stopping,
        connected: s.connected,
      };
    },
    outcome(eventId) {
      flushOutcomes();
      const r = one.get(eventId);
      if (r === undefined) return undefined;
      return {
        eventId,
        receipt: r.receipt === null ? undefined : fromBinary(ReceiptSchema, r.receipt),
        error: r.error ?? undefined,
      };
    },
    async close() {
      stopping = true;
      wake?.();
      agent.abort(); // what was in flight stays waiting in the file and is resent by the next run
      await loop;
      flushOutcomes();
      db.close();
    },
  };
  if (autoStart) outbox.start();
  return outbox;
}
