// A bound on the work waiting for a database connection. postgres.js queues (and pipelines) queries without limit
// when every connection is busy, so a slow database turns into unbounded memory and latency. Here a transaction
// (sql.begin, which holds a connection to itself) runs only while fewer than `max` do, and at most
// `max * pipelineDepth` operations run at once (plain queries may pipeline several to a connection, which
// postgres.js does well: halving it halved plain-query throughput in a measurement). At most `queueMax` more wait,
// each for at most `queueTimeoutMs`; past either bound an operation fails at once with a retryable "unavailable"
// DomainError carrying a retry hint (the API maps it to UNAVAILABLE with retry-after / retry_after_ms).
import type { Sql } from "postgres";
import { DomainError } from "../../domain/errors.js";

export interface PoolBound {
  /** The pool's connection count: transactions running at once. */
  readonly max: number;
  /** Operations allowed to wait; 0: none wait. */
  readonly queueMax: number;
  /** How long one operation may wait. */
  readonly queueTimeoutMs: number;
  /** Operations (queries and transactions) running at once per connection; default 8. */
  readonly pipelineDepth?: number;
  /** Retry hint sent with a refusal; default 1000. */
  readonly retryAfterMs?: number;
}

export type OperationKind = "query" | "transaction";

export interface PoolGate {
  acquire(kind: OperationKind): Promise<void>;
  release(kind: OperationKind): void;
  readonly running: number;
  readonly transactions: number;
  readonly waiting: number;
}

interface Waiter {
  readonly kind: OperationKind;
  readonly resolve: () => void;
  readonly timer: NodeJS.Timeout;
}

export function createPoolGate(bound: PoolBound): PoolGate {
  const retryAfterMs = bound.retryAfterMs ?? 1000;
  const maxRunning = bound.max * (bound.pipelineDepth ?? 8);
  const queue: Waiter[] = [];
  let running = 0;
  let transactions = 0;
  const canRun = (kind: OperationKind): boolean =>
    running < maxRunning && (kind === "query" || transactions < bound.max);
  const take = (kind: OperationKind): void => {
    running++;
    if (kind === "transaction") transactions++;
  };
  const refuse = (why: string): DomainError =>
    new DomainError("unavailable", `the database is saturated (${why}); retry in ${retryAfterMs} ms`, {
      retryAfterMs,
    });
  return {
    get running() {
      return running;
    },
    get transactions() {
      return transactions;
    },
    get waiting() {
      return queue.length;
    },
    acquire(kind) {
      // First come, first served: nothing overtakes a waiter.
      if (queue.length === 0 && canRun(kind)) {
        take(kind);
        return Promise.resolve();
      }
      if (queue.length >= bound.queueMax) {
        return Promise.reject(
          refuse(
            `${transactions} transactions on ${bound.max} connections, ${running} operations running, ${queue.length} waiting`,
          ),
        );
      }
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          kind,
          resolve,
          timer: setTimeout(() => {
            queue.splice(queue.indexOf(waiter), 1);
            reject(refuse(`no connection became free within ${bound.queueTimeoutMs} ms`));
          }, bound.queueTimeoutMs),
        };
        queue.push(waiter);
      });
    },
    release(kind) {
      running--;
      if (kind === "transaction") transactions--;
      for (let next = queue[0]; next !== undefined && canRun(next.kind); next = queue[0]) {
        queue.shift();
        clearTimeout(next.timer);
        take(next.kind);
        next.resolve();
      }
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
    gate.acquire("query").then(
      () => {
        let released = false;
        const once = (): void => {
          if (released) return;
          released = true;
          gate.release("query");
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
          await gate.acquire("transaction");
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            gate.release("transaction");
          }
        };
      }
      if (prop === "reserve") {
        return async () => {
          await gate.acquire("transaction");
          try {
            const reserved = await (value as () => Promise<Sql & { release(): void }>).apply(target);
            const release = reserved.release;
            let released = false;
            reserved.release = () => {
              if (released) return;
              released = true;
              release();
              gate.release("transaction");
            };
            return reserved;
          } catch (err) {
            gate.release("transaction");
            throw err;
          }
        };
      }
      return value;
    },
  });
}
