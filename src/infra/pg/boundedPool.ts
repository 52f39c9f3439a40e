// A bound on the work waiting for a database connection. postgres.js queues (and pipelines) queries without limit
// when every connection is busy, so a slow database turns into unbounded memory and latency. Here at most `max`
// top-level operations (a query, or a whole sql.begin transaction) run at once; at most `queueMax` more wait, each
// for at most `queueTimeoutMs`; past either bound the operation fails at once with a retryable "unavailable"
// DomainError carrying a retry hint (the API maps it to UNAVAILABLE with retry-after / retry_after_ms).
import type { Sql } from "postgres";
import { DomainError } from "../../domain/errors.js";

export interface PoolBound {
  /** Operations running at once: the pool's connection count. */
  readonly max: number;
  /** Operations allowed to wait for a connection; 0: none wait. */
  readonly queueMax: number;
  /** How long one operation may wait for a connection. */
  readonly queueTimeoutMs: number;
  /** Retry hint sent with a refusal. */
  readonly retryAfterMs?: number;
}

export interface PoolGate {
  acquire(): Promise<void>;
  release(): void;
  readonly running: number;
  readonly waiting: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly timer: NodeJS.Timeout;
}

export function createPoolGate(bound: PoolBound): PoolGate {
  const retryAfterMs = bound.retryAfterMs ?? 1000;
  const queue: Waiter[] = [];
  let running = 0;
  const refuse = (why: string): DomainError =>
    new DomainError("unavailable", `the database is saturated (${why}); retry in ${retryAfterMs} ms`, {
      retryAfterMs,
    });
  return {
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
    acquire() {
      if (running < bound.max) {
        running++;
        return Promise.resolve();
      }
      if (queue.length >= bound.queueMax) {
        return Promise.reject(
          refuse(`${running} operations hold all ${bound.max} connections and ${queue.length} already wait`),
        );
      }
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          resolve,
          timer: setTimeout(() => {
            queue.splice(queue.indexOf(waiter), 1);
            reject(refuse(`no connection became free within ${bound.queueTimeoutMs} ms`));
          }, bound.queueTimeoutMs),
        };
        queue.push(waiter);
      });
    },
    release() {
      const next = queue.shift();
      if (next === undefined) {
        running--;
        return;
      }
      // The permit passes straight to the next waiter.
      clearTimeout(next.timer);
      next.resolve();
    },
  };
}

interface PendingQuery {
  handler: (q: PendingQuery) => void;
  resolve: (x: unknown) => void;
  reject: (err: unknown) => void;
}

function isQuery(x: unknown): x is PendingQuery {
  return x instanceof Promise && typeof (x as Partial<PendingQuery>).handler === "function";
}

/** Routes a query's execution through the gate: it runs once a permit is held, and gives it back when it settles. */
function gateQuery(q: PendingQuery, gate: PoolGate): void {
  const dispatch = q.handler;
  q.handler = (query) => {
    gate.acquire().then(
      () => {
        let released = false;
        const once = (): void => {
          if (released) return;
          released = true;
          gate.release();
        };
        // Accessors, because postgres.js reassigns resolve/reject (cursors do, per page).
        let resolve = query.resolve;
        let reject = query.reject;
        Object.defineProperty(query, "resolve", {
          configurable: true,
          get: () => (x: unknown) => {
            once();
            resolve(x);
          },
          set: (fn: (x: unknown) => void) => {
            resolve = fn;
          },
        });
        Object.defineProperty(query, "reject", {
          configurable: true,
          get: () => (err: unknown) => {
            once();
            reject(err);
          },
          set: (fn: (err: unknown) => void) => {
            reject = fn;
          },
        });
        dispatch(query);
      },
      (err: unknown) => query.reject(err),
    );
  };
}

/** `sql` with its top-level queries and transactions bounded by `bound` (LISTEN and notify are not). */
export function boundPool(sql: Sql, bound: PoolBound): Sql {
  const gate = createPoolGate(bound);
  const wrapQuery = <T>(q: T): T => {
    if (isQuery(q)) gateQuery(q, gate);
    return q;
  };
  return new Proxy(sql, {
    apply(target, self, args) {
      return wrapQuery(Reflect.apply(target, self, args));
    },
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop === "unsafe" || prop === "file") {
        return (...args: unknown[]) => wrapQuery((value as (...a: unknown[]) => unknown).apply(target, args));
      }
      if (prop === "begin") {
        return async (...args: unknown[]) => {
          await gate.acquire();
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            gate.release();
          }
        };
      }
      if (prop === "reserve") {
        return async () => {
          await gate.acquire();
          try {
            const reserved = await (value as () => Promise<Sql & { release(): void }>).apply(target);
            const release = reserved.release;
            let released = false;
            reserved.release = () => {
              if (released) return;
              released = true;
              release();
              gate.release();
            };
            return reserved;
          } catch (err) {
            gate.release();
            throw err;
          }
        };
      }
      return value;
    },
  });
}
