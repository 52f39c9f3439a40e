// Limits the sequencer enforces on batches and events (ves-protocol.md §1.1, §1.2).

export interface Limits {
  /** Events per batch (upstream MAX_EVENTS_PER_BATCH, default 1000). */
  readonly maxEventsPerBatch: number;
  /** Bytes of one event's payload (plaintext JSON or ciphertext; upstream default 1 MiB). */
  readonly maxPayloadBytes: number;
  /** Bytes of one protobuf request message. */
  readonly maxMessageBytes: number;
  /** Batches one Append stream may have in flight before the server stops reading it. */
  readonly maxInFlightBatches: number;
}

export const STRING_LIMITS = {
  entity_type: 128,
  entity_id: 512,
  event_type: 256,
} as const;

export const MAX_BATCH_ID_BYTES = 128;
