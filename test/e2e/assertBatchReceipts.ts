// End-to-end helper: checks a BatchResult against the events the client signed: every event got a receipt, in
// request order, at the expected sequence numbers, each verifying against the sequencer key (docs/protocol.md §2.4).
import { expect } from "vitest";
import type { Receipt } from "../../gen/ves/sequencer/v1/event_pb.js";
import type { BatchResult } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../../src/client/signEvent.js";
import { verifyReceipt } from "../../src/client/verifyReceipt.js";

export interface ExpectedSequencer {
  readonly sequencerId: string;
  readonly keyId: string;
  /** The current receipt-signing key as GetSequencerInfo reported it. */
  readonly publicKey: Uint8Array;
}

/**
 * Asserts that `result` accepted every one of `events` (in order) at `firstSequence`, `firstSequence + 1`, ...,
 * that each receipt is for the client's own signing hash and verifies against the sequencer key (with the
 * portable SDK verifier, not the server's crypto), and returns the receipts.
 */
export function assertBatchReceipts(
  result: BatchResult | undefined,
  events: readonly SignedEvent[],
  firstSequence: bigint,
  sequencer: ExpectedSequencer,
  batchId: string,
): Receipt[] {
  expect(result, `batch ${batchId}: no BatchResult`).toBeDefined();
  const r = result as BatchResult;
  expect(r.error, `batch ${batchId} refused: ${r.error?.code} ${r.error?.message}`).toBeUndefined();
  expect(r.batchId).toBe(batchId);
  expect(r.acceptedCount).toBe(events.length);
  expect(r.rejectedCount).toBe(0);
  expect(r.replayedCount).toBe(0);
  expect(r.headSequence).toBe(firstSequence + BigInt(events.length) - 1n);
  expect(r.results).toHaveLength(events.length);
  const receipts: Receipt[] = [];
  for (const [i, event] of events.entries()) {
    const item = r.results[i];
    expect(item?.eventId).toBe(event.eventId);
    if (item?.outcome.case !== "receipt") {
      throw new Error(
        `batch ${batchId} event ${i}: expected a receipt, got ${item?.outcome.case}: ${
          item?.outcome.case === "rejection" ? item.outcome.value.message : ""
        }`,
      );
    }
    const receipt = item.outcome.value;
    expect(receipt.sequenceNumber).toBe(firstSequence + BigInt(i));
    expect(receipt.eventId).toBe(event.eventId);
    expect(receipt.tenantId).toBe(event.tenantId);
    expect(receipt.storeId).toBe(event.storeId);
    expect(receipt.sequencerId).toBe(sequencer.sequencerId);
    expect(receipt.sequencerKeyId).toBe(sequencer.keyId);
    expect(receipt.signatureAlg).toBe("ed25519");
    expect(verifyReceipt(receipt, sequencer.publicKey, { expectedSigningHash: event.signingHash })).toEqual({
      valid: true,
    });
    receipts.push(receipt);
  }
  return receipts;
}
