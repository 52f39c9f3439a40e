// The SDK's receipt-verification threads (`verifyThreads` of the Node createAgent): a small fixed pool of worker
// threads that verifies the sequencer signatures of a batch answer, packed into one transferred buffer per
// message. A worker is referenced only while it has work, so an idle pool never keeps the process alive; if one
// dies, its pending checks are verified on the calling thread (never lost, never answered unverified).
import type { Worker } from "node:worker_threads";
import type { SignatureCheck } from "../client/createAgent.js";
import type { Ed25519 } from "../crypto/ed25519Encoding.js";
import { serverEd25519 } from "../crypto/native.js";
import { startWorker } from "./startWorker.js";
import { packable, packChecks, type VerifyRequest, type VerifyResponse } from "./verifyCodec.js";

/** The most threads a pool may have. */
export const MAX_VERIFY_THREADS = 16;

export interface VerifyPool {
  /** One boolean per check, in order; never rejects. */
  verify(checks: readonly SignatureCheck[]): Promise<boolean[]>;
  /** Terminates every thread; checks still pending are verified on this thread. */
  close(): Promise<void>;
  /** The threads running now (started on the first verify). For tests and diagnostics. */
  workers(): readonly Worker[];
  stats(): VerifyPoolStats;
}

export interface VerifyPoolStats {
  /** Messages sent to a thread and not answered yet. */
  readonly inFlight: number;
  /** Checks verified on the calling thread because their thread died or none was running. */
  readonly fallbackChecks: number;
  /** Threads that exited or failed other than by close(). */
  readonly deaths: number;
}

interface Pending {
  readonly checks: readonly SignatureCheck[];
  resolve(answers: boolean[]): void;
}

interface Slot {
  readonly worker: Worker;
  readonly inFlight: Map<number, Pending>;
  dead: boolean;
}

// Below this many checks per message the dispatch overhead outweighs spreading a batch over threads.
const MIN_CHUNK = 128;
const WORKER_URL = new URL("./verifyWorker.ts", import.meta.url);
const RESPAWN_DELAY_MS = 500;

export function createVerifyPool(size: number, ed25519: Ed25519 = serverEd25519()): VerifyPool {
  const slots: (Slot | undefined)[] = new Array(size).fill(undefined);
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let started = false;
  let closed = false;
  let nextId = 1;
  let fallbackChecks = 0;
  let deaths = 0;

  const here = (checks: readonly SignatureCheck[]): boolean[] => {
    fallbackChecks += checks.length;
    return checks.map((c) => {
      try {
        return ed25519.verify(c.signature, c.message, c.publicKey);
      } catch {
        return false;
      }
    });
  };

  const spawn = (index: number): void => {
    const worker = startWorker(WORKER_URL);
    const slot: Slot = { worker, inFlight: new Map(), dead: false };
    worker.on("message", (res: VerifyResponse) => {
      const p = slot.inFlight.get(res.id);
      if (p === undefined) return;
      slot.inFlight.delete(res.id);
      if (slot.inFlight.size === 0) worker.unref();
      const out = new Uint8Array(res.buffer);
      p.resolve(out.length === p.checks.length ? Array.from(out, (b) => b === 1) : here(p.checks));
    });
    const die = (): void => {
      if (slot.dead) return;
      slot.dead = true;
      if (!closed) deaths++;
      const pending = [...slot.inFlight.values()];
      slot.inFlight.clear();
      for (const p of pending) p.resolve(here(p.checks));
      if (!closed && slots[index] === slot) {
        // Replaced a little later, so a thread that cannot start does not spin; meanwhile the others (or this
        // thread) verify.
        const t = setTimeout(() => {
          timers.delete(t);
          if (!closed && slots[index] === slot) spawn(index);
        }, RESPAWN_DELAY_MS);
        t.unref();
        timers.add(t);
      }
    };
    worker.on("error", die);
    worker.on("exit", die);
    worker.unref();
    slots[index] = slot;
  };

  const post = (slot: Slot, checks: readonly SignatureCheck[]): Promise<boolean[]> => {
    const id = nextId++;
    const buffer = packChecks(checks);
    return new Promise((resolve) => {
      if (slot.inFlight.size === 0) slot.worker.ref(); // work in hand: the process waits for the answer
      slot.inFlight.set(id, { checks, resolve });
      slot.worker.postMessage({ id, buffer } satisfies VerifyRequest, [buffer]);
    });
  };

  return {
    async verify(checks) {
      if (checks.length === 0) return [];
      if (!started && !closed) {
        started = true;
        for (let i = 0; i < size; i++) spawn(i);
      }
      const alive = slots.filter((s): s is Slot => s !== undefined && !s.dead);
      if (closed || alive.length === 0 || !checks.every(packable)) return here(checks);
      const chunk = Math.max(MIN_CHUNK, Math.ceil(checks.length / alive.length));
      const parts: Promise<boolean[]>[] = [];
      for (let i = 0; i < checks.length; i += chunk) {
        let target = alive[0] as Slot;
        for (const s of alive) if (s.inFlight.size < target.inFlight.size) target = s;
        parts.push(post(target, checks.slice(i, i + chunk)));
      }
      return (await Promise.all(parts)).flat();
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all(slots.map((s) => s?.worker.terminate()));
    },
    workers() {
      return slots.filter((s): s is Slot => s !== undefined && !s.dead).map((s) => s.worker);
    },
    stats() {
      let inFlight = 0;
      for (const s of slots) inFlight += s?.inFlight.size ?? 0;
      return { inFlight, fallbackChecks, deaths };
    },
  };
}

const shared = new Map<number, { pool: VerifyPool; users: number }>();

/**
 * The process's pool of `size` threads, shared by every agent that asks for that many (four agents with
 * verifyThreads 2 run two threads, not eight). `release` once per acquire; the last release terminates it.
 */
export function acquireVerifyPool(size: number): { pool: VerifyPool; release(): Promise<void> } {
  let entry = shared.get(size);
  if (entry === undefined) {
    entry = { pool: createVerifyPool(size), users: 0 };
    shared.set(size, entry);
  }
  entry.users++;
  const held = entry;
  let released = false;
  return {
    pool: held.pool,
    async release() {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      if (shared.get(size) === held) shared.delete(size);
      await held.pool.close();
    },
  };
}
