// Ends a client stream that sends nothing for a while: the request iterator fails with UNAVAILABLE after
// `idleMs` without a message (unless `exempt()` says the stream is busy otherwise, e.g. it carries a
// subscription), so an abandoned stream does not stay open for ever.
import { Code, ConnectError } from "@connectrpc/connect";

export function idleError(idleMs: number): ConnectError {
  return new ConnectError(
    `no message for ${idleMs} ms: the stream was closed as idle (every batch read was answered); open a new stream to send more`,
    Code.Unavailable,
  );
}

export async function* endWhenIdle<T>(
  requests: AsyncIterable<T>,
  idleMs: number,
  exempt: () => boolean = () => false,
): AsyncGenerator<T> {
  const it = requests[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = it.next();
      let timer: NodeJS.Timeout | undefined;
      const result =
        idleMs <= 0
          ? await next
          : await new Promise<IteratorResult<T> | "idle">((resolve, reject) => {
              const arm = (): void => {
                timer = setTimeout(() => (exempt() ? arm() : resolve("idle")), idleMs);
              };
              arm();
              next.then(resolve, reject);
            }).finally(() => clearTimeout(timer));
      if (result === "idle") throw idleError(idleMs);
      if (result.done === true) {
        finished = true;
        return;
      }
      yield result.value;
    }
  } finally {
    if (!finished) void it.return?.()?.catch(() => {});
  }
}
