// VES v1.0 event, receipt and stream types (docs/protocol.md §1, §2.3, §2.4, §16.2). Plain data, no protobuf.

/** One (tenant, store) stream. UUIDs in lowercase canonical form. */
export interface StreamKey {
  readonly tenantId: string;
  readonly storeId: string;
}

/** "tenant:store": a stream as a map key. */
export function streamKeyString(s: StreamKey): string {
  return `${s.tenantId}:${s.storeId}`;
}

export interface RecipientInput {
  readonly recipientKid: number;
  readonly enc: Uint8Array;
  readonly ct: Uint8Array;
}

/** VES-ENC-1 encrypted payload as received (docs/protocol.md §5). */
export interface EncryptedPayloadInput {
  readonly encVersion: number;
  readonly aead: string;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
  readonly hpke: { readonly mode: string; readonly kem: string; readonly kdf: string; readonly aead: string };
  readonly recipients: readonly RecipientInput[];
}

/** The fields every form of an event (as sent, as checked, as stored) shares, with the same meaning and type. */
export interface EventHeader {
  readonly eventId: string;
  readonly tenantId: string;
  readonly storeId: string;
  readonly sourceAgentId: string;
  readonly agentKeyId: number;
  readonly entityType: string;
  readonly entityId: string;
  readonly eventType: string;
  readonly createdAt: string;
  readonly payloadEncrypted: EncryptedPayloadInput | undefined;
  readonly agentSignature: Uint8Array;
  readonly agentSignatureScheme: number;
  readonly commandId: string | undefined;
  readonly baseVersion: bigint | undefined;
}

/**
 * An event as a client sent it, before validation. `payloadKind` is the signed VES value
 * (0 plaintext, 1 encrypted); any other number means the client sent no valid kind.
 */
export interface EventInput extends EventHeader {
  readonly vesVersion: number;
  readonly payloadKind: number;
  /** Plaintext: UTF-8 JSON text. Empty for encrypted events. */
  readonly payload: Uint8Array;
  /** 32 bytes, or empty to have the server compute it (plaintext only). */
  readonly payloadPlainHash: Uint8Array;
  /** 32 bytes, or empty to have the server compute it. */
  readonly payloadCipherHash: Uint8Array;
}

/** A statically valid event: UUIDs normalised, version fixed to 1, hashes known or to be computed. */
export interface CheckedEvent extends EventHeader {
  readonly index: number;
  readonly vesVersion: 1;
  readonly payloadKind: 0 | 1;
  readonly payload: Uint8Array | undefined;
  /** As sent (32 bytes) or undefined when the server must compute it. */
  readonly payloadPlainHash: Uint8Array | undefined;
  /** Final cipher hash: zeros for plaintext; for encrypted, recomputed by validation. */
  readonly payloadCipherHash: Uint8Array;
}

/** The sequencer's signed statement for one event (docs/protocol.md §2.4). */
export interface Receipt {
  readonly sequencerId: string;
  readonly sequencerKeyId: string;
  readonly tenantId: string;
  readonly storeId: string;
  readonly eventId: string;
  readonly sequenceNumber: bigint;
  readonly sequencedAt: Date;
  readonly eventSigningHash: Uint8Array;
  readonly receiptHash: Uint8Array;
  readonly sequencerSignature: Uint8Array;
}

/** An event as stored in the log: every signed field, the agent signature and the receipt. */
export interface StoredEvent extends EventHeader {
  readonly vesVersion: number;
  readonly payloadKind: 0 | 1;
  readonly payload: Uint8Array | undefined;
  readonly payloadPlainHash: Uint8Array;
  readonly payloadCipherHash: Uint8Array;
  /** The entity's version after this event (1 for its first event). */
  readonly entityVersion: bigint;
  readonly receipt: Receipt;
}
