// Agent SDK: an async iterable fed by push(), the request side of a client-streaming or bidi call.

export interface PushQueue<T> extends AsyncIterable<T> {
  push(value: T): void;
  /** Ends the iteration once the values pushed so far are taken (a half-close for a request stream). */
  end(): void;
}

/** Unbounded by itself: callers bound what they push (the producer holds at most maxInFlight batches). */
export function createPushQueue<T>(): PushQueue<T> {
  const values: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(value) {
      if (ended) return;
      values.push(value);
      notify();
    },
    end() {
      ended = true;
      notify();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = values.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
