// Admission control for batches across all streams and unary calls: at most `limit` batches are held in
// memory at once, and at most `perKeyLimit` of them for one key (the batch's tenant), so one tenant's load can
// never take every slot. The rest wait in arrival order, each until its own key is under its bound (an Append
// stream that waits stops reading, so HTTP/2 flow control pushes back on its client). A slot is taken only for
// a batch that has arrived: a stream waiting for its next message holds none.

export interface Admission {
  /** Resolves with a release function once a slot is free for `key`; rejects if `signal` aborts first. */
  acquire(key: string, signal?: AbortSignal): Promise<() => void>;
  readonly inUse: number;
  readonly waiting: number;
}

interface Waiter {
  readonly key: string;
  readonly grant: () => void;
}

export function createAdmission(limit: number, perKeyLimit: number = limit): Admission {
  let inUse = 0;
  const byKey = new Map<string, number>();
  const waiters: Waiter[] = [];
  const fits = (key: string): boolean => inUse < limit && (byKey.get(key) ?? 0) < perKeyLimit;
  const take = (key: string): void => {
    inUse++;
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
  };
  const release = (key: string): void => {
    inUse--;
    const n = (byKey.get(key) ?? 1) - 1;
    if (n === 0) byKey.delete(key);
    else byKey.set(key, n);
    // The first waiter whose key is under its bound goes next; a key at its bound does not block the others.
    for (let i = 0; i < waiters.length && inUse < limit; i++) {
      const w = waiters[i] as Waiter;
      if (fits(w.key)) {
        waiters.splice(i, 1);
        i--;
        take(w.key);
        w.grant();
      }
    }
  };
  const releaser = (key: string): (() => void) => {
    let released = false;
    return () => {
      if (!released) {
        released = true;
        release(key);
      }
    };
  };
  return {
    get inUse() {
      return inUse;
    },
    get waiting() {
      return waiters.length;
    },
    acquire(key, signal) {
      if (fits(key)) {
        take(key);
        return Promise.resolve(releaser(key));
      }
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          key,
          grant: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve(releaser(key));
          },
        };
        const onAbort = (): void => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          reject(signal?.reason ?? new Error("aborted"));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        waiters.push(waiter);
      });
    },
  };
}
