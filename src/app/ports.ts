// Ports: what the use cases need from the outside world. Adapters live in infra/ and are wired in main.ts.
import type { Sha256 } from "../crypto/sha256.js";
import type { AgentKey, AgentKeyValidity } from "../domain/agentKey.js";
import type { ApiKey } from "../domain/apiKey.js";
import type { AuditEntry, AuditRecord } from "../domain/auditLog.js";
import type { ExistingEvent, VerifiedEvent } from "../domain/decideBatch.js";
import type { CheckedEvent, StoredEvent, StreamKey } from "../domain/event.js";
import type { Limits } from "../domain/limits.js";

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

/** What a rotation writes, decided from the old key as read under its row lock. */
export interface RotationPlan {
  readonly newKey: AgentKey;
  /** The old key's new valid_to; undefined leaves it unchanged. */
  readonly oldValidTo: Date | undefined;
  readonly audit: AuditRecord;
}

/** Agent keys. Every change is written together with its audit entry, in one transaction. */
export interface AgentKeyStore {
  /** Throws DomainError("already_exists") when (tenant, agent, key id) is taken. */
  insert(key: AgentKey, audit: AuditRecord): Promise<AgentKey>;
  list(tenantId: string, agentId: string | undefined): Promise<AgentKey[]>;
  /**
   * Sets revoked_at (once) and returns the key; undefined when there is no such key. The audit entry is
   * written only when this call revoked it.
   */
  revoke(
    tenantId: string,
    agentId: string,
    keyId: number,
    reason: string,
    at: Date,
    audit: AuditRecord,
  ): Promise<AgentKey | undefined>;
  /**
   * Locks the old key, lets `plan` decide (it may throw a DomainError; the old key is undefined when missing),
   * then inserts the new key, updates the old key's valid_to and appends the audit entry, atomically.
   */
  rotate(
    tenantId: string,
    agentId: string,
    oldKeyId: number,
    plan: (old: AgentKey | undefined) => RotationPlan,
  ): Promise<{ oldKey: AgentKey; newKey: AgentKey }>;
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
