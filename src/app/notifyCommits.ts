// An EventLog that reports every head it commits, once the commit is done: this instance's subscribers then see
// its own commits without waiting for the round trip of the database notification (or, on a database that does
// not deliver notifications, for the next poll).
import type { StreamKey } from "../domain/event.js";
import type { EventLog } from "./ports.js";

export function notifyCommits(log: EventLog, onCommit: (stream: StreamKey, head: bigint) => void): EventLog {
  return {
    async sequence(stream, query, fn) {
      let committedHead: bigint | undefined;
      const result = await log.sequence(stream, query, (locked, write) =>
        fn(locked, async (events, newHead) => {
          await write(events, newHead);
          committedHead = newHead;
        }),
      );
      if (committedHead !== undefined) onCommit(stream, committedHead);
      return result;
    },
    head: (stream) => log.head(stream),
  };
}
