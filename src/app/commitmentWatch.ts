// Watches how far each stream of interest is sealed, for the receipt upgrades of Append streams. This
// process's worker reports its commitments at once; commitments sealed by other instances are found by
// polling, one query per interval for every watched stream.
import type { StreamKey } from "../domain/event.js";
import { streamKeyString } from "../domain/streamKey.js";
import type { CommitmentStore } from "./ports.js";

export interface CommitmentWatch {
  /**
   * Calls `onSealed(sealedEnd)` each time the stream's sealed end is seen to advance, starting with the
   * first value seen after this call. Returns the function that stops watching.
   */
  watch(stream: StreamKey, onSealed: (sealedEnd: bigint) => void): () => void;
  /** The sealed end last seen for a watched stream; 0 when not known yet. */
  sealedEnd(stream: StreamKey): bigint;
  /** A commitment sealed by this process. */
  notify(stream: StreamKey, sealedEnd: bigint): void;
  stop(): void;
}

interface Watched {
  readonly stream: StreamKey;
  sealedEnd: bigint;
  readonly listeners: Set<(sealedEnd: bigint) => void>;
}

export function createCommitmentWatch(
  store: Pick<CommitmentStore, "sealedEnds">,
  opts: { pollMs: number; onError?: (err: unknown) => void },
): CommitmentWatch {
  const watched = new Map<string, Watched>();
  let timer: NodeJS.Timeout | undefined;
  let polling = false;
  let stopped = false;

  const advance = (w: Watched, end: bigint): void => {
    if (end <= w.sealedEnd) return;
    w.sealedEnd = end;
    for (const l of [...w.listeners]) l(end);
  };

  const schedule = (delay: number): void => {
    if (timer !== undefined || stopped || watched.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      void poll();
    }, delay);
  };

  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      const entries = [...watched.values()];
      if (entries.length > 0) {
        const ends = await store.sealedEnds(entries.map((w) => w.stream));
        for (const w of entries) advance(w, ends.get(streamKeyString(w.stream)) ?? 0n);
      }
    } catch (err) {
      opts.onError?.(err);
    } finally {
      polling = false;
      schedule(opts.pollMs);
    }
  }

  return {
    watch(stream, onSealed) {
      const key = streamKeyString(stream);
      let w = watched.get(key);
      if (w === undefined) {
        w = { stream, sealedEnd: -1n, listeners: new Set() };
        watched.set(key, w);
      }
      const entry = w;
      entry.listeners.add(onSealed);
      // A new stream's sealed end is not known yet: look now rather than after a full interval.
      if (entry.sealedEnd < 0n) {
        clearTimeout(timer);
        timer = undefined;
        schedule(0);
      } else {
        schedule(opts.pollMs);
      }
      return () => {
        entry.listeners.delete(onSealed);
        if (entry.listeners.size === 0 && watched.get(key) === entry) watched.delete(key);
      };
    },
    sealedEnd(stream) {
      const end = watched.get(streamKeyString(stream))?.sealedEnd ?? 0n;
      return end < 0n ? 0n : end;
    },
    notify(stream, sealedEnd) {
      const w = watched.get(streamKeyString(stream));
      if (w !== undefined) advance(w, sealedEnd);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
