// An EventLog that reports every head it commits, with the events committed, once the commit is done: this
// instance's subscribers then see its own commits without waiting for the database notification (or, on a database
// that does not deliver notifications, for the next poll), and without reading back what was just written.
import type { StoredEvent, StreamKey } from "../domain/event.js";
import type { EventLog } from "./ports.js";

export function notifyCommits(
  log: EventLog,
  onCommit: (stream: StreamKey, head: bigint, events: readonly StoredEvent[]) => void,
): EventLog {
  return {
    async sequence(stream, query, fn) {
      let committed: { head: bigint; events: readonly StoredEvent[] } | undefined;
      const result = await log.sequence(stream, query, (locked, write) =>
        fn(locked, async (events, newHead) => {
          await write(events, newHead);
          committed = { head: newHead, events };
        }),
      );
      if (committed !== undefined) onCommit(stream, committed.head, committed.events);
      return result;
    },
    head: (stream) => log.head(stream),
  };
}
