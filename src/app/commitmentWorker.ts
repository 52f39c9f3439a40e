// The commitment worker: polls for streams with waiting events and seals each one's next commitment when it is
// due (docs/protocol.md §16.10). Any number of instances may run it: the stream lock lets one seal at a time,
// and the database refuses a commitment that does not extend the chain. Stopping waits for the seal in flight.
import type { Commitment } from "../domain/commitment.js";
import type { SealPolicy } from "../domain/sealPolicy.js";
import { sealDecision } from "../domain/sealPolicy.js";
import { streamKeyString } from "../domain/streamKey.js";
import type { SealCandidate, SealDeps } from "./ports.js";
import { type SealHooks, sealCommitment } from "./sealCommitment.js";

export interface CommitmentWorkerOptions extends SealHooks {
  readonly policy: SealPolicy;
  /** How often to look for streams with new events. */
  readonly pollMs: number;
  /** After a failure, wait this long before the next round. */
  readonly retryMs?: number;
  /** Streams looked at per round. */
  readonly candidateLimit?: number;
  /** Streams sealed at the same time (each holds a database connection while it seals). */
  readonly concurrency?: number;
  readonly onSealed?: (commitment: Commitment, firstSequencedAt: Date | undefined, ms: number) => void;
  readonly onError?: (err: unknown) => void;
}

export interface CommitmentWorker {
  /** Stops polling and resolves once the round in flight (and its seal) finished. */
  stop(): Promise<void>;
}

// Bounds the commitments one stream gets per round, so a large backlog cannot starve other streams.
const MAX_SEALS_PER_STREAM_PER_ROUND = 16;

export function startCommitmentWorker(deps: SealDeps, opts: CommitmentWorkerOptions): CommitmentWorker {
  const retryMs = opts.retryMs ?? 1000;
  const limit = opts.candidateLimit ?? 1000;
  const concurrency = opts.concurrency ?? 1;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  // Streams whose last seal failed, and when to try them again.
  const backoff = new Map<string, number>();

  /** One pass over the candidates; returns when to run next (epoch ms). */
  async function round(): Promise<number> {
    const started = deps.clock.now().getTime();
    let next = started + opts.pollMs;
    let sealedAny = false;
    const candidates = await deps.commitments.sealCandidates(limit);
    const due: SealCandidate[] = [];
    for (const c of candidates) {
      const retryAt = backoff.get(streamKeyString(c.stream));
      if (retryAt !== undefined) {
        if (retryAt > deps.clock.now().getTime()) continue;
        backoff.delete(streamKeyString(c.stream));
      }
      const d = sealDecision(c, deps.clock.now(), opts.policy);
      if (d.kind === "wait") next = Math.min(next, d.dueAt);
      if (d.kind === "seal") due.push(c);
    }
    // `concurrency` streams are sealed side by side (each one's commitments in order). One at a time is the
    // default: four seals at once (reading 4,096 events and writing four trees together) were the largest source
    // of ingest tail latency, and one keeps up with the peak ingest rate. More suit many streams.
    let i = 0;
    const sealStreams = async (): Promise<void> => {
      for (let c = due[i++]; c !== undefined && !stopped; c = due[i++]) {
        try {
          for (let k = 0; k < MAX_SEALS_PER_STREAM_PER_ROUND && !stopped; k++) {
            const t0 = performance.now();
            const out = await sealCommitment(deps, c.stream, opts.policy, opts);
            if (out.kind === "wait") next = Math.min(next, out.dueAt);
            if (out.kind !== "sealed") break;
            sealedAny = true;
            opts.onSealed?.(out.commitment, out.firstSequencedAt, performance.now() - t0);
            if (!out.more) break;
          }
        } catch (err) {
          // One stream's failure (the database refusing a commitment, a lost connection) must not hold up the
          // others; the stream is tried again after retryMs.
          opts.onError?.(err);
          backoff.set(streamKeyString(c.stream), deps.clock.now().getTime() + retryMs);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, sealStreams));
    // Something was sealed, so more may be due already (a backlog, or streams beyond the candidate limit).
    return sealedAny ? started : next;
  }

  const loop = (async () => {
    while (!stopped) {
      let next: number;
      try {
        next = await round();
      } catch (err) {
        opts.onError?.(err);
        next = deps.clock.now().getTime() + retryMs;
      }
      const wait = next - deps.clock.now().getTime();
      if (stopped || wait <= 0) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, wait);
      });
      wake = undefined;
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
