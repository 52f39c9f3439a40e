// Picks the copy of the log that serves one read request: a replica that has applied what the request needs,
// or the primary (EventReader.route); the reader itself where there are no replicas.
import type { StreamKey } from "../domain/event.js";
import type { EventReader } from "./ports.js";

/** The reader for one request on `stream` that needs its events up to `atLeast` ("latest": the primary's). */
export function readerFor(
  reader: EventReader,
  stream: StreamKey,
  atLeast: bigint | "latest",
): Promise<EventReader> {
  return reader.route?.(stream, atLeast) ?? Promise.resolve(reader);
}

/** The position a cursor needs applied: the event before it (0 and 1 both mean the start). */
export function neededBefore(cursor: bigint): bigint {
  return cursor > 1n ? cursor - 1n : 0n;
}
