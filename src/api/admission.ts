// Admission control for batches across all streams and unary calls: at most `limit` batches are held in
// memory at once; the rest wait in arrival order (an Append stream that waits stops reading, so HTTP/2 flow
// control pushes back on its client).

export interface Admission {
  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  readonly inUse: number;
  readonly waiting: number;
}

export function createAdmission(limit: number): Admission {
  let inUse = 0;
  const waiters: (() => void)[] = [];
  const release = (): void => {
    const next = waiters.shift();
    if (next !== undefined) next();
    else inUse--;
  };
  const releaser = (): (() => void) => {
    let released = false;
    return () => {
      if (!released) {
        released = true;
        release();
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
    acquire(signal) {
      if (inUse < limit) {
        inUse++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const grant = (): void => {
          signal?.removeEventListener("abort", onAbort);
          resolve(releaser());
        };
        const onAbort = (): void => {
          const i = waiters.indexOf(grant);
          if (i >= 0) waiters.splice(i, 1);
          reject(signal?.reason ?? new Error("aborted"));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        waiters.push(grant);
      });
    },
  };
}
