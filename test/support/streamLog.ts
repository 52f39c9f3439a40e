// Reading a stream back from PostgreSQL for order checks, and the receipt checks the multi-process tests share.

import type postgres from "postgres";
import { expect } from "vitest";
import type { Receipt } from "../../gen/ves/sequencer/v1/event_pb.js";
import { verifyReceipt } from "../../src/client/verifyReceipt.js";
import { serverCrypto } from "./agent.js";

/** One row of `events`, reduced to what the order and receipt checks need. */
export interface LoggedEvent {
  readonly sequenceNumber: bigint;
  readonly eventId: string;
  readonly eventSigningHash: Uint8Array;
  readonly receiptHash: Uint8Array;
  readonly sequencerSignature: Uint8Array;
}

/** Every event of a stream, by sequence number, and the stream's head (0 when the stream has no row). */
export async function readStream(
  sql: postgres.Sql,
  tenantId: string,
  storeId: string,
): Promise<{ events: LoggedEvent[]; head: bigint }> {
  // One snapshot for both reads, so a head and rows from different moments never meet.
  return sql.begin("isolation level repeatable read read only", async (tx) => {
    const rows = await tx<
      {
        sequence_number: bigint | string;
        event_id: string;
        event_signing_hash: Uint8Array;
        receipt_hash: Uint8Array;
        sequencer_signature: Uint8Array;
      }[]
    >`
      select sequence_number, event_id, event_signing_hash, receipt_hash, sequencer_signature
      from events where tenant_id = ${tenantId} and store_id = ${storeId}
      order by sequence_number`;
    const [stream] = await tx<{ head: bigint | string }[]>`
      select head from streams where tenant_id = ${tenantId} and store_id = ${storeId}`;
    return {
      head: BigInt(stream?.head ?? 0n),
      events: rows.map((r) => ({
        sequenceNumber: BigInt(r.sequence_number),
        eventId: r.event_id,
        eventSigningHash: new Uint8Array(r.event_signing_hash),
        receiptHash: new Uint8Array(r.receipt_hash),
        sequencerSignature: new Uint8Array(r.sequencer_signature),
      })),
    };
  });
}

/** Asserts the stream's sequence numbers are exactly 1..head, in order, with the head matching. */
export function expectGapFree(stream: { events: readonly LoggedEvent[]; head: bigint }): void {
  const seqs = stream.events.map((e) => e.sequenceNumber);
  const expected = Array.from({ length: seqs.length }, (_, i) => BigInt(i + 1));
  expect(seqs).toEqual(expected);
  expect(stream.head).toBe(BigInt(seqs.length));
}

/** Asserts a receipt verifies against the sequencer key, is for the event the client signed, and matches the log. */
export function expectReceiptMatches(
  receipt: Receipt,
  signingHash: Uint8Array,
  sequencerKey: Uint8Array,
  logged: LoggedEvent | undefined,
): void {
  // Native crypto: the same checks as the SDK default (noble), fast enough for thousands of receipts.
  expect(verifyReceipt(receipt, sequencerKey, { expectedSigningHash: signingHash, ...serverCrypto })).toEqual(
    {
      valid: true,
    },
  );
  expect(logged, `event ${receipt.eventId} is not in the log`).toBeDefined();
  expect(logged?.eventId).toBe(receipt.eventId);
  expect(logged?.sequenceNumber).toBe(receipt.sequenceNumber);
  expect(Buffer.from(logged?.receiptHash ?? []).equals(receipt.receiptHash)).toBe(true);
  expect(Buffer.from(logged?.sequencerSignature ?? []).equals(receipt.sequencerSignature)).toBe(true);
}

/** Waits until no session other than the caller's is connected to the database (a killed server's are gone). */
export async function waitForOtherSessionsToEnd(sql: postgres.Sql, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()`;
    if (row?.n === 0) return;
    if (Date.now() > deadline) throw new Error(`${row?.n} other database sessions still open`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
