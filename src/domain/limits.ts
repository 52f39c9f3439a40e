// Limits the sequencer enforces on batches and events (docs/protocol.md §1.1, §1.2).

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

/**
 * Bytes of an event's created_at. RFC 3339 date-times are about 20-35 bytes; the grammar allows a fraction
 * of any length, and without a bound a multi-megabyte string would be stored and sent to every reader.
 */
export const MAX_CREATED_AT_BYTES = 64;

/** Bounds of the read API (PullEvents, GetEntityHistory, Subscribe). */
export const READ_LIMITS = {
  /** Events per page when the request says 0. */
  defaultPageEvents: 100,
  /** Most events per page, and per read of a subscription. */
  maxPageEvents: 1000,
  /** Payload bytes per page, roughly (approxEventBytes); a page always holds at least one event. */
  maxPageBytes: 4 * 1024 * 1024,
  /**
   * Bytes per subscription message, roughly. Small enough that the messages waiting to be written to slow
   * subscribers (one each) stay modest when many share one HTTP/2 connection.
   */
  maxMessageBytes: 256 * 1024,
  /** Most values in one filter list (event_types, source_agent_ids). */
  maxFilterValues: 32,
  /**
   * Sequence numbers one filtered read scans at most when no index serves the filter, so a selective filter
   * cannot turn one request into a scan of the whole stream; the page then ends early with has_more.
   */
  maxScanEvents: 10_000,
} as const;
