// Ports: what the use cases need from the outside world. Adapters live in infra/ and are wired in main.ts.
import type { Ed25519 } from "../crypto/ed25519.js";
import type { MerkleTree } from "../crypto/merkle.js";
import type { Sha256 } from "../crypto/sha256.js";
import type { AgentKey, AgentKeyValidity } from "../domain/agentKey.js";
import type { ApiKey } from "../domain/apiKey.js";
import type { AuditEntry, AuditRecord } from "../domain/auditLog.js";
import type { ChainTip } from "../domain/buildCommitment.js";
import type { Commitment, LeafInput, StateLink } from "../domain/commitment.js";
import type { ExistingEvent, VerifiedEvent } from "../domain/decideBatch.js";
import type { EncryptionKey } from "../domain/encryptionKey.js";
import type { CheckedEvent, Receipt, StoredEvent, StreamKey } from "../domain/event.js";
import type { EventFilter } from "../domain/eventFilter.js";
import type { Limits } from "../domain/limits.js";
import type { ReadResult } from "../domain/readRange.js";
import type { SealState } from "../domain/sealPolicy.js";

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
  /** Receipt hashes (docs/protocol.md §2.4) of the stream's events and Ed25519 signatures over them, in order. */
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

/** What a rotation writes, decided from the old key as read under its row lock. */
export interface RotationPlan {
  readonly newKey: AgentKey;
  /** The old key's new valid_to; undefined leaves it unchanged. */
  readonly oldValidTo: Date | undefined;
  readonly audit: AuditRecord;
}

/** Agent keys. Every change is written together with its audit entry, in one transaction. */
export interface AgentKeyStore {
  /**
   * Inserts the key `build` makes from the database's time (so a default valid_from is the registry's now, not
   * this instance's). Throws DomainError("already_exists") when (tenant, agent, key id) is taken.
   */
  insert(build: (now: Date) => { key: AgentKey; audit: AuditRecord }): Promise<AgentKey>;
  list(tenantId: string, agentId: string | undefined): Promise<AgentKey[]>;
  /**
   * Sets revoked_at (once) to the database's time, taken after the key row is locked (so it is later than the
   * sequenced_at of every event accepted with that key), and returns the key; undefined when there is no such
   * key. The audit entry (made from that time) is written only when this call revoked it.
   */
  revoke(
    tenantId: string,
    agentId: string,
    keyId: number,
    reason: string,
    audit: (revokedAt: Date) => AuditRecord,
  ): Promise<AgentKey | undefined>;
  /**
   * Locks the old key, lets `plan` decide at the database's time (it may throw a DomainError; the old key is
   * undefined when missing),
   * then inserts the new key, updates the old key's valid_to and appends the audit entry, atomically.
   */
  rotate(
    tenantId: string,
    agentId: string,
    oldKeyId: number,
    plan: (old: AgentKey | undefined, now: Date) => RotationPlan,
  ): Promise<{ oldKey: AgentKey; newKey: AgentKey }>;
}

/** What the agent key use cases (register, list, revoke, rotate) need. */
export interface AgentKeyDeps {
  readonly store: AgentKeyStore;
  readonly clock: Clock;
  readonly sha256: Sha256;
  readonly ed25519: Ed25519;
}

/** API keys. Every change is written together with its audit entry, in one transaction. */
export interface ApiKeyStore {
  /** Throws DomainError("already_exists") when the prefix is taken. */
  insert(key: ApiKey, audit: AuditRecord): Promise<ApiKey>;
  list(tenantId: string): Promise<ApiKey[]>;
  /**
   * Sets revoked_at (once) and tells every instance to forget the key; undefined when the tenant has no such
   * key. The audit entry is written only when this call revoked it.
   */
  revoke(tenantId: string, prefix: string, at: Date, audit: AuditRecord): Promise<ApiKey | undefined>;
}

/** API keys by prefix for authentication; adapters may cache, but must forget a revoked key within 1 s. */
export interface ApiKeyLookup {
  byPrefix(prefix: string): Promise<ApiKey | undefined>;
  /** Forgets a key on this instance at once (other instances learn through the store's notification). */
  forget(prefix: string): void;
}

export interface AuditLogReader {
  /** Entries of the tenant's log with seq > afterSeq, oldest first, at most `limit`. */
  list(tenantId: string, afterSeq: bigint, limit: number): Promise<AuditEntry[]>;
}

/** Verifies a bearer token's signature, issuer, audience and times; returns its claims. */
export interface TokenVerifier {
  /** Throws DomainError("unauthenticated") for an invalid, expired or not-yet-valid token. */
  verify(token: string): Promise<Readonly<Record<string, unknown>>>;
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
  /**
   * The database's clock, read in the sequencing transaction after the stream lock and the batch's key rows
   * were locked: the time of key-status checks and the events' sequenced_at. One clock for every instance, and
   * ordered with revocations (a revocation locks the key row before taking its time).
   */
  readonly now: Date;
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

/** What a sequencing transaction did, for its trace. */
export interface SequencingResult {
  readonly accepted: number;
  readonly replayed: number;
  readonly rejected: number;
  readonly head: bigint;
}

/** One sequencing transaction being traced (with its retries). */
export interface SequencingSpan {
  /** The transaction was aborted by a concurrent one and runs again. */
  retry(err: unknown): void;
  /** Ends the span: with the result when the transaction committed, with the error when it failed. */
  end(result: SequencingResult | undefined, err?: unknown): void;
}

/** Traces sequencing transactions (tracing/OpenTelemetry); absent when tracing is off, so it costs nothing. */
export interface SequencingTracer {
  start(stream: StreamKey, events: number): SequencingSpan;
}

export interface AppendDeps {
  readonly log: EventLog;
  readonly keys: AgentKeyLookup;
  readonly verifier: EventVerifier;
  readonly signer: ReceiptSigner;
  readonly clock: Clock;
  readonly sha256: Sha256;
  readonly limits: Limits;
  /** Unset: sequencing is not traced. */
  readonly tracer?: SequencingTracer | undefined;
}

/** Signs checkpoint hashes with the sequencer's receipt key (one signature per commitment). */
export interface CheckpointSigner {
  readonly sequencerId: string;
  readonly keyId: string;
  sign(checkpointHash: Uint8Array): Uint8Array;
}

/** A stream with events waiting to be sealed. */
export interface SealCandidate extends SealState {
  readonly stream: StreamKey;
}

/** A stream's sealing state read while holding its commitment lock, and what may be done under it. */
export interface SealLock extends SealState {
  /** The last commitment; undefined before the first. */
  readonly tip: ChainTip | undefined;
  /** The leaf inputs of events start..end, in sequence order. */
  leaves(start: bigint, end: bigint): Promise<LeafInput[]>;
  /** Inserts the commitment and its tree; it commits when the locked callback resolves. */
  insert(commitment: Commitment, tree: MerkleTree): Promise<void>;
}

export type CommitmentSelector = { readonly commitmentId: string } | { readonly sequenceNumber: bigint };
export type EventSelector = { readonly eventId: string } | { readonly sequenceNumber: bigint };

/** A sealed event with what its inclusion proof needs. */
export interface SealedEvent {
  readonly eventId: string;
  readonly sequenceNumber: bigint;
  readonly eventSigningHash: Uint8Array;
  readonly agentSignature: Uint8Array;
  /** Bottom up, read from the stored tree. */
  readonly siblings: Uint8Array[];
}

/** A sealed event's leaf inputs and id. */
export interface SealedLeaf extends LeafInput {
  readonly eventId: string;
}

export type InclusionLookup =
  | { readonly kind: "not_found" }
  | { readonly kind: "unsealed"; readonly eventId: string; readonly sequenceNumber: bigint }
  | {
      readonly kind: "sealed";
      readonly event: SealedEvent;
      readonly receipt: Receipt;
      readonly commitment: Commitment;
    };

export interface CommitmentStore {
  /** Streams whose head is past their last commitment, the longest-waiting first. */
  sealCandidates(limit: number): Promise<SealCandidate[]>;
  /**
   * Runs `fn` in one transaction holding the stream's commitment lock, or returns { acquired: false } at once
   * when another worker holds it. Nothing `fn` inserted survives unless it resolves.
   */
  withSealLock<T>(
    stream: StreamKey,
    fn: (lock: SealLock) => Promise<T>,
  ): Promise<{ acquired: true; value: T } | { acquired: false }>;
  get(stream: StreamKey, selector: CommitmentSelector): Promise<Commitment | undefined>;
  /** Commitments starting after `afterSequence`, in order. */
  list(stream: StreamKey, afterSequence: bigint, limit: number): Promise<Commitment[]>;
  /** The stream's head and latest commitment. */
  syncState(stream: StreamKey): Promise<{ head: bigint; latest: Commitment | undefined }>;
  /** The end of each stream's latest commitment (0 for none), keyed by streamKeyString. */
  sealedEnds(streams: readonly StreamKey[]): Promise<Map<string, bigint>>;
  inclusion(stream: StreamKey, selector: EventSelector): Promise<InclusionLookup>;
  /**
   * The sealed ones among `sequenceNumbers`, grouped by commitment in sequence order, each with its siblings
   * read from the stored tree (only the nodes its proof needs).
   */
  inclusionSlices(
    stream: StreamKey,
    sequenceNumbers: readonly bigint[],
  ): Promise<{ commitment: Commitment; events: SealedEvent[] }[]>;
  /** Every commitment covering one of `sequenceNumbers`, in order, with the leaf inputs of all its events. */
  sealedRanges(
    stream: StreamKey,
    sequenceNumbers: readonly bigint[],
  ): Promise<{ commitment: Commitment; events: SealedLeaf[] }[]>;
  /** Links of the commitments after `afterEnd` up to and including the one ending at `toEnd`, at most `limit`. */
  stateLinks(stream: StreamKey, afterEnd: bigint, toEnd: bigint, limit: number): Promise<StateLink[]>;
}

export interface ProofDeps {
  readonly commitments: CommitmentStore;
  readonly sha256: Sha256;
}

export interface SealDeps extends ProofDeps {
  readonly signer: CheckpointSigner;
  readonly clock: Clock;
  /** A fresh UUID per commitment. */
  readonly newId: () => string;
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
  /**
   * Present where reads are spread over copies of the log (read replicas): a reader bound to one copy that has
   * applied the stream up to `atLeast` at least (a lagging copy is waited for briefly, else the primary serves),
   * so that the reads of one request see one consistent state. "latest": the primary. Absent: this reader is
   * the primary.
   */
  route?(stream: StreamKey, atLeast: bigint | "latest"): Promise<EventReader>;
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

/** Agents' X25519 encryption keys; every change is written with its audit entry in one transaction. */
export interface EncryptionKeyStore {
  /**
   * Inserts the key `build` makes from the database's time. Throws DomainError("already_exists") when the
   * (tenant, recipient kid) is taken.
   */
  insert(build: (now: Date) => { key: EncryptionKey; audit: AuditRecord }): Promise<EncryptionKey>;
  list(tenantId: string, agentId: string | undefined): Promise<EncryptionKey[]>;
  /**
   * Sets revoked_at (once) to the database's time and returns the key; undefined when the agent has no such
   * key. The audit entry is written only when this call revoked it.
   */
  revoke(
    tenantId: string,
    agentId: string,
    recipientKid: number,
    reason: string,
    audit: (revokedAt: Date) => AuditRecord,
  ): Promise<EncryptionKey | undefined>;
}

/** What the encryption key use cases (register, list, revoke) need. */
export interface EncryptionKeyDeps {
  readonly encryptionKeys: EncryptionKeyStore;
}
