// Ports: what the use cases need from the outside world. Adapters live in infra/ and are wired in main.ts.
import type { Sha256 } from "../crypto/sha256.js";
import type { AgentKey, AgentKeyValidity } from "../domain/agentKey.js";
import type { ExistingEvent, VerifiedEvent } from "../domain/decideBatch.js";
import type { CheckedEvent, StoredEvent, StreamKey } from "../domain/event.js";
import type { EventFilter } from "../domain/eventFilter.js";
import type { Limits } from "../domain/limits.js";
import type { ReadResult } from "../domain/readRange.js";

export interface Clock {
  now(): Date;
}

/** Runs the per-event crypto of ingest (payload hash, signing hash, Ed25519 verify) off the event loop. */
export interface EventVerifier {
  verify(
    items: readonly { event: CheckedEvent; publicKey: Uint8Array | undefined }[],
  ): Promise<VerifiedEvent[]>;
}

export interface ReceiptToSign {
  readonly eventId: string;
  readonly sequenceNumber: bigint;
  readonly eventSigningHash: Uint8Array;
}

/** The sequencer's receipt-signing key. */
export interface ReceiptSigner {
  readonly sequencerId: string;
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  /** Receipt hashes (ves-protocol.md §2.4) of the stream's events and Ed25519 signatures over them, in order. */
  signReceipts(
    stream: StreamKey,
    items: readonly ReceiptToSign[],
  ): Promise<{ receiptHash: Uint8Array; signature: Uint8Array }[]>;
}

export interface AgentKeyRef {
  readonly agentId: string;
  readonly keyId: number;
}

/** Public keys by agentKeyRef(); keys never change once registered, so adapters may cache them. */
export interface AgentKeyLookup {
  publicKeys(tenantId: string, refs: readonly AgentKeyRef[]): Promise<Map<string, Uint8Array>>;
}

export interface AgentKeyStore {
  /** Throws DomainError("already_exists") when (tenant, agent, key id) is taken. */
  insert(key: AgentKey): Promise<AgentKey>;
  list(tenantId: string, agentId: string | undefined): Promise<AgentKey[]>;
  /** Sets revoked_at (once) and returns the key; undefined when there is no such key. */
  revoke(
    tenantId: string,
    agentId: string,
    keyId: number,
    reason: string,
    at: Date,
  ): Promise<AgentKey | undefined>;
}

/** What a batch needs to read under the stream lock. */
export interface StreamQuery {
  readonly eventIds: readonly string[];
  readonly commandIds: readonly string[];
  readonly entities: readonly { readonly entityType: string; readonly entityId: string }[];
  readonly keyRefs: readonly AgentKeyRef[];
}

/** The state of a stream as read under its lock. Maps are keyed as decideBatch expects. */
export interface LockedStream {
  readonly head: bigint;
  readonly existing: ReadonlyMap<string, ExistingEvent>;
  readonly commands: ReadonlyMap<string, string>;
  readonly entityVersions: ReadonlyMap<string, bigint>;
  readonly keys: ReadonlyMap<string, AgentKeyValidity>;
}

export interface EventLog {
  /**
   * Runs `fn` in one transaction holding the stream's sequencing lock. `write` inserts the accepted events
   * and moves the head; the transaction commits when `fn` resolves. Throws DomainError("aborted") when a
   * concurrent transaction got in the way and the whole call may be retried.
   */
  sequence<T>(
    stream: StreamKey,
    query: StreamQuery,
    fn: (
      locked: LockedStream,
      write: (events: readonly StoredEvent[], newHead: bigint) => Promise<void>,
    ) => Promise<T>,
  ): Promise<T>;
  head(stream: StreamKey): Promise<bigint>;
}

export interface AppendDeps {
  readonly log: EventLog;
  readonly keys: AgentKeyLookup;
  readonly verifier: EventVerifier;
  readonly signer: ReceiptSigner;
  readonly clock: Clock;
  readonly sha256: Sha256;
  readonly limits: Limits;
}

/** Positions [from, to] of one read (sequence numbers, or an entity's versions), at most `limit` events. */
export interface ReadRange {
  readonly from: bigint;
  /** Inclusive. Callers never pass a position past a committed head. */
  readonly to: bigint;
  readonly limit: number;
  /** Stop once about this many bytes were read (approxEventBytes); at least one event is always returned. */
  readonly maxBytes: number;
}

/** Reads the committed log. Every read is bounded by a head read earlier, so it never skips a slow writer. */
export interface EventReader {
  /** The stream's committed head; 0 when it has no events. */
  head(stream: StreamKey): Promise<bigint>;
  /** Heads of many streams in one round trip, by streamKeyString; streams without events may be absent. */
  heads(streams: readonly StreamKey[]): Promise<Map<string, bigint>>;
  /** The events of the stream in `range` that match `filter`, in sequence order. */
  read(stream: StreamKey, range: ReadRange, filter: EventFilter): Promise<ReadResult>;
  /** The entity's current version (its number of events); 0 for an unknown entity. */
  entityVersion(stream: StreamKey, entityType: string, entityId: string): Promise<bigint>;
  /** The entity's events whose versions are in `range`, in order. */
  entityEvents(
    stream: StreamKey,
    entityType: string,
    entityId: string,
    range: ReadRange,
  ): Promise<ReadResult>;
}

/** Receives the heads that commits produce, from any instance. */
export interface CommitListener {
  /** A commit made `head` the stream's head (notifications may be late, repeated or out of order). */
  onHead(stream: StreamKey, head: bigint): void;
  /** Notifications may have been lost (a reconnect): re-read the heads of interest. */
  onGap(): void;
}

/** Wake-ups for readers: heads committed by any instance through any transport. Never the source of truth. */
export interface CommitFeed {
  start(listener: CommitListener): Promise<{ stop(): Promise<void> }>;
}
