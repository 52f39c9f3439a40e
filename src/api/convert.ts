// The one place that turns protobuf messages into domain values and back.
import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type ApiKey, ApiKeySchema, Permission } from "../../gen/ves/sequencer/v1/api_key_pb.js";
import {
  type EncryptedPayload,
  EncryptedPayloadSchema,
  type Event,
  type EventResult,
  EventSchema,
  PayloadKind,
  type Receipt,
  type Rejection,
  RejectionReason,
  RejectionSchema,
  type SequencedEvent,
  SequencedEventSchema,
} from "../../gen/ves/sequencer/v1/event_pb.js";
import {
  type AgentKey,
  AgentKeySchema,
  type EncryptionKey,
  EncryptionKeySchema,
  type KeyAuditEntry,
  KeyAuditEntrySchema,
  KeyStatus,
} from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import type { BatchResult } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { BatchOutcome } from "../app/appendBatch.js";
import type { AgentKey as DomainAgentKey, KeyStatus as DomainKeyStatus } from "../domain/agentKey.js";
import type { ApiKey as DomainApiKey } from "../domain/apiKey.js";
import type { AuditEntry } from "../domain/auditLog.js";
import type { EncryptionKey as DomainEncryptionKey } from "../domain/encryptionKey.js";
import type { Receipt as DomainReceipt, EventInput, StoredEvent } from "../domain/event.js";
import type { Permission as DomainPermission } from "../domain/principal.js";
import type {
  Rejection as DomainRejection,
  RejectionReason as DomainRejectionReason,
} from "../domain/rejection.js";

/** Proto PayloadKind → signed VES value (plaintext 0, encrypted 1); anything else stays invalid (-1). */
function vesPayloadKind(kind: PayloadKind): number {
  switch (kind) {
    case PayloadKind.PLAINTEXT:
      return 0;
    case PayloadKind.ENCRYPTED:
      return 1;
    default:
      return -1;
  }
}

export function eventFromProto(e: Event): EventInput {
  const p = e.payloadEncrypted;
  return {
    vesVersion: e.vesVersion,
    eventId: e.eventId,
    tenantId: e.tenantId,
    storeId: e.storeId,
    sourceAgentId: e.sourceAgentId,
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt,
    payloadKind: vesPayloadKind(e.payloadKind),
    payload: e.payload,
    payloadEncrypted:
      p === undefined
        ? undefined
        : {
            encVersion: p.encVersion,
            aead: p.aead,
            nonce: p.nonce,
            ciphertext: p.ciphertext,
            tag: p.tag,
            hpke: {
              mode: p.hpke?.mode ?? "",
              kem: p.hpke?.kem ?? "",
              kdf: p.hpke?.kdf ?? "",
              aead: p.hpke?.aead ?? "",
            },
            recipients: p.recipients.map((r) => ({ recipientKid: r.recipientKid, enc: r.enc, ct: r.ct })),
          },
    payloadPlainHash: e.payloadPlainHash,
    payloadCipherHash: e.payloadCipherHash,
    agentSignature: e.agentSignature,
    agentSignatureScheme: e.agentSignatureScheme,
    commandId: e.commandId,
    baseVersion: e.baseVersion,
  };
}

/**
 * Object literals rather than `create()`: every field is set, and on the ingest path `create()`'s reflection
 * cost more than the encoding. `sequencedAt` may be shared by the receipts of one batch.
 */
export function receiptToProto(
  r: DomainReceipt,
  sequencedAt: Timestamp = timestampFromDate(r.sequencedAt),
): Receipt {
  return {
    $typeName: "ves.sequencer.v1.Receipt",
    sequencerId: r.sequencerId,
    sequencerKeyId: r.sequencerKeyId,
    tenantId: r.tenantId,
    storeId: r.storeId,
    eventId: r.eventId,
    sequenceNumber: r.sequenceNumber,
    sequencedAt,
    eventSigningHash: r.eventSigningHash,
    receiptHash: r.receiptHash,
    sequencerSignature: r.sequencerSignature,
    signatureAlg: "ed25519",
  };
}

const REJECTION_REASONS: Record<DomainRejectionReason, RejectionReason> = {
  invalid_format: RejectionReason.INVALID_FORMAT,
  unsupported_version: RejectionReason.UNSUPPORTED_VERSION,
  invalid_payload_hash: RejectionReason.INVALID_PAYLOAD_HASH,
  invalid_cipher_hash: RejectionReason.INVALID_CIPHER_HASH,
  unknown_key: RejectionReason.UNKNOWN_KEY,
  key_revoked: RejectionReason.KEY_REVOKED,
  key_not_yet_valid: RejectionReason.KEY_NOT_YET_VALID,
  key_expired: RejectionReason.KEY_EXPIRED,
  unsupported_signature_scheme: RejectionReason.UNSUPPORTED_SIGNATURE_SCHEME,
  invalid_signature: RejectionReason.INVALID_SIGNATURE,
  duplicate_event_id: RejectionReason.DUPLICATE_EVENT_ID,
  event_id_conflict: RejectionReason.EVENT_ID_CONFLICT,
  duplicate_command_id: RejectionReason.DUPLICATE_COMMAND_ID,
  version_conflict: RejectionReason.VERSION_CONFLICT,
};

function rejectionToProto(r: DomainRejection): Rejection {
  return create(RejectionSchema, {
    reason: REJECTION_REASONS[r.reason],
    code: r.code,
    message: r.message,
    field: r.field ?? "",
    expected: r.expected ?? "",
    actual: r.actual ?? "",
  });
}

export function batchOutcomeToProto(o: BatchOutcome): BatchResult {
  // New receipts of one batch share their sequencing time; convert it once.
  let lastDate: Date | undefined;
  let lastTimestamp: Timestamp | undefined;
  const timestamp = (d: Date): Timestamp => {
    if (d !== lastDate || lastTimestamp === undefined) {
      lastDate = d;
      lastTimestamp = timestampFromDate(d);
    }
    return lastTimestamp;
  };
  return {
    $typeName: "ves.sequencer.v1.BatchResult",
    batchId: o.batchId,
    tenantId: o.stream.tenantId,
    storeId: o.stream.storeId,
    headSequence: o.head,
    acceptedCount: o.accepted,
    replayedCount: o.replayed,
    rejectedCount: o.rejected,
    error: undefined,
    results: o.results.map(
      (r): EventResult => ({
        $typeName: "ves.sequencer.v1.EventResult",
        eventId: r.eventId,
        replayed: r.replayed,
        outcome:
          r.receipt !== undefined
            ? { case: "receipt", value: receiptToProto(r.receipt, timestamp(r.receipt.sequencedAt)) }
            : r.rejection !== undefined
              ? { case: "rejection", value: rejectionToProto(r.rejection) }
              : { case: undefined },
      }),
    ),
  };
}

function encryptedToProto(p: NonNullable<StoredEvent["payloadEncrypted"]>): EncryptedPayload {
  return create(EncryptedPayloadSchema, {
    encVersion: p.encVersion,
    aead: p.aead,
    nonce: p.nonce,
    ciphertext: p.ciphertext,
    tag: p.tag,
    hpke: { ...p.hpke },
    recipients: p.recipients.map((r) => ({ recipientKid: r.recipientKid, enc: r.enc, ct: r.ct })),
  });
}

function storedEventToProto(e: StoredEvent): Event {
  return create(EventSchema, {
    vesVersion: e.vesVersion,
    eventId: e.eventId,
    tenantId: e.tenantId,
    storeId: e.storeId,
    sourceAgentId: e.sourceAgentId,
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt,
    payloadKind: e.payloadKind === 0 ? PayloadKind.PLAINTEXT : PayloadKind.ENCRYPTED,
    payload: e.payload ?? new Uint8Array(0),
    payloadEncrypted: e.payloadEncrypted === undefined ? undefined : encryptedToProto(e.payloadEncrypted),
    payloadPlainHash: e.payloadPlainHash,
    payloadCipherHash: e.payloadCipherHash,
    agentSignature: e.agentSignature,
    agentSignatureScheme: e.agentSignatureScheme,
    commandId: e.commandId,
    baseVersion: e.baseVersion,
  });
}

export function sequencedEventToProto(e: StoredEvent): SequencedEvent {
  return create(SequencedEventSchema, {
    event: storedEventToProto(e),
    receipt: receiptToProto(e.receipt),
    entityVersion: e.entityVersion,
  });
}

const KEY_STATUSES: Record<DomainKeyStatus, KeyStatus> = {
  active: KeyStatus.ACTIVE,
  revoked: KeyStatus.REVOKED,
  not_yet_valid: KeyStatus.NOT_YET_VALID,
  expired: KeyStatus.EXPIRED,
};

export function agentKeyToProto(k: DomainAgentKey, status: DomainKeyStatus): AgentKey {
  return create(AgentKeySchema, {
    tenantId: k.tenantId,
    agentId: k.agentId,
    keyId: k.keyId,
    publicKey: k.publicKey,
    algorithm: k.algorithm,
    status: KEY_STATUSES[status],
    validFrom: timestampFromDate(k.validFrom),
    validTo: k.validTo === undefined ? undefined : timestampFromDate(k.validTo),
    revokedAt: k.revokedAt === undefined ? undefined : timestampFromDate(k.revokedAt),
    revocationReason: k.revocationReason ?? "",
    createdAt: timestampFromDate(k.createdAt),
  });
}

export function encryptionKeyToProto(k: DomainEncryptionKey, status: DomainKeyStatus): EncryptionKey {
  return create(EncryptionKeySchema, {
    tenantId: k.tenantId,
    agentId: k.agentId,
    recipientKid: k.recipientKid,
    publicKey: k.publicKey,
    algorithm: k.algorithm,
    status: KEY_STATUSES[status],
    validFrom: timestampFromDate(k.validFrom),
    validTo: k.validTo === undefined ? undefined : timestampFromDate(k.validTo),
    revokedAt: k.revokedAt === undefined ? undefined : timestampFromDate(k.revokedAt),
    revocationReason: k.revocationReason ?? "",
    createdAt: timestampFromDate(k.createdAt),
  });
}

export function optionalDate(t: Timestamp | undefined): Date | undefined {
  return t === undefined ? undefined : timestampDate(t);
}

const PERMISSIONS: Record<DomainPermission, Permission> = {
  read: Permission.READ,
  write: Permission.WRITE,
  admin: Permission.ADMIN,
};

/** Proto permissions as the names the domain validates ("unspecified" and unknown numbers stay invalid). */
export function permissionNames(ps: readonly Permission[]): string[] {
  return ps.map((p) =>
    p === Permission.READ
      ? "read"
      : p === Permission.WRITE
        ? "write"
        : p === Permission.ADMIN
          ? "admin"
          : `${p}`,
  );
}

export function apiKeyToProto(k: DomainApiKey): ApiKey {
  return create(ApiKeySchema, {
    prefix: k.prefix,
    tenantId: k.tenantId,
    name: k.name,
    permissions: k.permissions.map((p) => PERMISSIONS[p]),
    storeIds: [...k.storeIds],
    agentId: k.agentId ?? "",
    rateLimit: k.rateLimit ?? 0,
    createdAt: timestampFromDate(k.createdAt),
    createdBy: k.createdBy,
    revokedAt: k.revokedAt === undefined ? undefined : timestampFromDate(k.revokedAt),
  });
}

export function auditEntryToProto(e: AuditEntry): KeyAuditEntry {
  return create(KeyAuditEntrySchema, {
    tenantId: e.tenantId,
    seq: e.seq,
    at: timestampFromDate(e.at),
    actor: e.actor,
    action: e.action,
    subject: e.subject,
    content: e.content,
    prevHash: e.prevHash,
    hash: e.hash,
  });
}
