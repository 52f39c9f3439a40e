// Bench data: a stream of real signed events (agent signatures and sequencer receipts that verify), generated in
// worker threads and written with the sequencer's own PostgreSQL adapter (createPgEventLog: the same INSERT, entity
// versions, head and NOTIFY as ingest), skipping only the server's validation path. Fast enough for a
// million-event stream in well under a minute on two cores.
import { once } from "node:events";
import os from "node:os";
import type { Worker } from "node:worker_threads";
import { ZERO32 } from "../src/crypto/bytes.js";
import type { StoredEvent } from "../src/domain/event.js";
import { createSql } from "../src/infra/pg/createSql.js";
import { createPgEventLog } from "../src/infra/pg/pgEventLog.js";
import { startTsWorker } from "../src/infra/startTsWorker.js";
import { progress } from "./support.js";

export interface StreamSpec {
  tenantId: string;
  storeId: string;
  agentId: string;
  agentSeed: Uint8Array;
  sequencerSeed: Uint8Array;
  sequencerId: string;
  sequencerKeyId: string;
  /** Distinct entities the events cycle through. */
  entities: number;
}

export interface GeneratedEvent {
  eventId: string;
  entityId: string;
  entityVersion: number;
  createdAt: string;
  payload: Uint8Array;
  payloadPlainHash: Uint8Array;
  agentSignature: Uint8Array;
  signingHash: Uint8Array;
  receiptHash: Uint8Array;
  sequencerSignature: Uint8Array;
}

const CHUNK = 2000;

/** Appends sequences from+1 .. from+count to the stream (its head must be `from`). */
export async function populateStream(
  databaseUrl: string,
  spec: StreamSpec,
  from: number,
  count: number,
  workers = Math.max(1, os.availableParallelism()),
): Promise<void> {
  const sql = createSql(databaseUrl, { max: 2 });
  const log = createPgEventLog(sql);
  const pool: Worker[] = Array.from({ length: workers }, () =>
    startTsWorker(new URL("./signedEventsWorker.ts", import.meta.url), { ...spec }),
  );
  const stream = { tenantId: spec.tenantId, storeId: spec.storeId };
  const bar = progress("signing and writing events", count);
  try {
    const pending = new Map<number, Promise<GeneratedEvent[]>>();
    const results = new Map<number, (events: GeneratedEvent[]) => void>();
    for (const w of pool) {
      w.on("message", (m: { id: number; events: GeneratedEvent[] }) => results.get(m.id)?.(m.events));
    }
    const chunks = Math.ceil(count / CHUNK);
    const request = (id: number): void => {
      if (id >= chunks) return;
      const start = from + 1 + id * CHUNK;
      pending.set(
        id,
        new Promise((resolve) => {
          results.set(id, resolve);
          (pool[id % pool.length] as Worker).postMessage({
            id,
            start,
            count: Math.min(CHUNK, from + count + 1 - start),
          });
        }),
      );
    };
    // Keep every worker busy two chunks ahead of the writer.
    for (let id = 0; id < workers * 2; id++) request(id);
    for (let id = 0; id < chunks; id++) {
      const generated = await (pending.get(id) as Promise<GeneratedEvent[]>);
      pending.delete(id);
      results.delete(id);
      request(id + workers * 2);
      const first = from + 1 + id * CHUNK;
      const sequencedAt = new Date();
      const events: StoredEvent[] = generated.map((g, i) => ({
        vesVersion: 1,
        eventId: g.eventId,
        ...stream,
        sourceAgentId: spec.agentId,
        agentKeyId: 1,
        entityType: "order",
        entityId: g.entityId,
        eventType: "order.updated",
        createdAt: g.createdAt,
        payloadKind: 0,
        payload: g.payload,
        payloadEncrypted: undefined,
        payloadPlainHash: g.payloadPlainHash,
        payloadCipherHash: ZERO32,
        agentSignature: g.agentSignature,
        agentSignatureScheme: 1,
        commandId: undefined,
        baseVersion: undefined,
        entityVersion: BigInt(g.entityVersion),
        receipt: {
          sequencerId: spec.sequencerId,
          sequencerKeyId: spec.sequencerKeyId,
          ...stream,
          eventId: g.eventId,
          sequenceNumber: BigInt(first + i),
          sequencedAt,
          eventSigningHash: g.signingHash,
          receiptHash: g.receiptHash,
          sequencerSignature: g.sequencerSignature,
        },
      }));
      const last = BigInt(first + events.length - 1);
      await log.sequence(
        stream,
        { eventIds: [], commandIds: [], entities: [], keyRefs: [] },
        async (locked, write) => {
          if (locked.head !== BigInt(first - 1))
            throw new Error(`stream head is ${locked.head}, expected ${first - 1}`);
          await write(events, last);
        },
      );
      bar.tick(events.length);
    }
    bar.done();
  } finally {
    await Promise.all(
      pool.map(async (w) => {
        const exited = once(w, "exit");
        await w.terminate();
        await exited.catch(() => {});
      }),
    );
    await sql.end({ timeout: 5 });
  }
}
