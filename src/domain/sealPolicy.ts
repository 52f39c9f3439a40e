// When a stream's new events are sealed into a commitment (docs/protocol.md §16.10): as soon as `maxEvents` are
// waiting, or the oldest waiting one is `maxAgeMs` old, whichever comes first. A commitment covers at most
// `maxEvents` events, so a backlog is sealed in full-size chunks.

export interface SealPolicy {
  readonly maxEvents: number;
  readonly maxAgeMs: number;
}

/** A stream's sealing state: its head, the end of its last commitment (0 for none) and its oldest unsealed event. */
export interface SealState {
  readonly head: bigint;
  readonly sealedEnd: bigint;
  /** When the event at sealedEnd + 1 was sequenced; undefined when there is none (or it could not be read). */
  readonly firstUnsealedAt: Date | undefined;
}

export type SealDecision =
  | { readonly kind: "seal"; readonly start: bigint; readonly end: bigint }
  /** Events are waiting but neither threshold is reached; `dueAt` is when the age threshold will be (epoch ms). */
  | { readonly kind: "wait"; readonly dueAt: number }
  | { readonly kind: "idle" };

export function sealDecision(s: SealState, now: Date, policy: SealPolicy): SealDecision {
  const waiting = s.head - s.sealedEnd;
  if (waiting <= 0n) return { kind: "idle" };
  const start = s.sealedEnd + 1n;
  const max = BigInt(policy.maxEvents);
  if (waiting >= max) return { kind: "seal", start, end: s.sealedEnd + max };
  // No timestamp for a waiting event means the row is not readable as expected: seal rather than wait forever.
  const dueAt = s.firstUnsealedAt === undefined ? 0 : s.firstUnsealedAt.getTime() + policy.maxAgeMs;
  if (now.getTime() >= dueAt) return { kind: "seal", start, end: s.head };
  return { kind: "wait", dueAt };
}
