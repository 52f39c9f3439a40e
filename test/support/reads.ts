// Helpers of the read tests: appending signed events fast, and checking what a reader received.
import type { Client } from "@connectrpc/connect";
import { expect } from "vitest";
import type { SequencedEvent } from "../../gen/ves/sequencer/v1/event_pb.js";
import type { SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../../src/client/signEvent.js";
import { signedEventToProto } from "../../src/client/toProto.js";
import { verifySequencedEvent } from "../../src/client/verifySequencedEvent.js";
import { serverCrypto } from "./agent.js";

/** Appends `events` in batches (in order) and returns them by sequence number (index 0 = sequence 1 of this call). */
export async function appendAll(
  seq: Client<typeof SequencerService>,
  events: readonly SignedEvent[],
  batchSize = 500,
): Promise<bigint[]> {
  const sequences: bigint[] = [];
  for (let i = 0; i < events.length; i += batchSize) {
    const res = await seq.appendBatch({
      batchId: crypto.randomUUID(),
      events: events.slice(i, i + batchSize).map(signedEventToProto),
    });
    for (const r of res.result?.results ?? []) {
      if (r.outcome.case !== "receipt")
        throw new Error(`event not sequenced: ${JSON.stringify(r.outcome.value)}`);
      sequences.push(r.outcome.value.sequenceNumber);
    }
  }
  return sequences;
}

/** Asserts that `got` is exactly 1..n (or from..n), in order: no gap, no repeat. */
export function expectExactRange(got: readonly bigint[], n: number, from = 1): void {
  if (got.length !== n - from + 1 || got.some((s, i) => s !== BigInt(from + i))) {
    const firstBad = got.findIndex((s, i) => s !== BigInt(from + i));
    throw new Error(
      `expected sequences ${from}..${n} in order (${n - from + 1}), got ${got.length}; first difference at index ${firstBad}: ${got[firstBad]}`,
    );
  }
}

/** Every event verifies on its own: payload hash, agent signature, receipt. */
export function expectVerified(
  events: readonly SequencedEvent[],
  agentKeys: ReadonlyMap<string, Uint8Array>,
  sequencerPublicKey: Uint8Array,
): void {
  for (const e of events) {
    const agentPublicKey = agentKeys.get(e.event?.sourceAgentId ?? "");
    if (agentPublicKey === undefined) throw new Error(`no key for agent ${e.event?.sourceAgentId}`);
    const verdict = verifySequencedEvent(e, { agentPublicKey, sequencerPublicKey, ...serverCrypto });
    expect(verdict.valid, `event ${e.event?.eventId}: ${JSON.stringify(verdict)}`).toBe(true);
  }
}
