// Proof messages (proof.proto) to domain values and back. Messages from clients are checked here, at the edge:
// a wrong byte length or too long a list is invalid_argument naming the field (e.g. "proof.siblings[3]").
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Receipt as ReceiptMessage } from "../../gen/ves/sequencer/v1/event_pb.js";
import {
  type Commitment as CommitmentMessage,
  type ConsistencyProof as ConsistencyProofMessage,
  ConsistencyProofSchema,
  type InclusionProof as InclusionProofMessage,
} from "../../gen/ves/sequencer/v1/proof_pb.js";
import { isUuid } from "../crypto/bytes.js";
import { MAX_PROOF_SIBLINGS } from "../crypto/merkle.js";
import {
  type Commitment,
  type ConsistencyProof,
  type InclusionProof,
  MAX_CONSISTENCY_LINKS,
} from "../domain/commitment.js";
import { invalidField, showValue } from "../domain/errors.js";
import type { CheckpointToCheck, InclusionProofToCheck, ReceiptToCheck } from "../domain/proofChecks.js";

// Object literals rather than create(): every field is set, and create()'s reflection costs more than the
// encoding on the proof path (as for receipts in convert.ts).
export function commitmentToProto(c: Commitment): CommitmentMessage {
  return {
    $typeName: "ves.sequencer.v1.Commitment",
    commitmentId: c.commitmentId,
    tenantId: c.tenantId,
    storeId: c.storeId,
    sequenceStart: c.sequenceStart,
    sequenceEnd: c.sequenceEnd,
    leafCount: c.leafCount,
    paddedLeafCount: c.paddedLeafCount,
    treeDepth: c.treeDepth,
    merkleRoot: c.merkleRoot,
    prevStateRoot: c.prevStateRoot,
    newStateRoot: c.newStateRoot,
    sequencerId: c.sequencerId,
    sequencerKeyId: c.sequencerKeyId,
    checkpointHash: c.checkpointHash,
    signature: c.signature,
    signatureAlg: "ed25519",
    committedAt: timestampFromDate(c.committedAt),
  };
}

export function inclusionProofToProto(p: InclusionProof): InclusionProofMessage {
  return {
    $typeName: "ves.sequencer.v1.InclusionProof",
    tenantId: p.tenantId,
    storeId: p.storeId,
    eventId: p.eventId,
    sequenceNumber: p.sequenceNumber,
    eventSigningHash: p.eventSigningHash,
    agentSignature: p.agentSignature,
    leafHash: p.leafHash,
    commitmentId: p.commitmentId,
    sequenceStart: p.sequenceStart,
    leafCount: p.leafCount,
    leafIndex: p.leafIndex,
    siblings: [...p.siblings],
    merkleRoot: p.merkleRoot,
  };
}

export function consistencyProofToProto(p: ConsistencyProof): ConsistencyProofMessage {
  return create(ConsistencyProofSchema, { ...p, links: p.links.map((l) => ({ ...l })) });
}

function bytes(value: Uint8Array, length: number, field: string): Uint8Array {
  if (value.length !== length) throw invalidField(field, `${length} bytes`, `${value.length} bytes`);
  return value;
}

function uuid(value: string, field: string): string {
  if (!isUuid(value)) throw invalidField(field, "a UUID", showValue(value));
  return value;
}

function present<T>(value: T | undefined, field: string, what: string): T {
  if (value === undefined) throw invalidField(field, what, "none");
  return value;
}

/** An InclusionProof message from a client, checked for shape (not for truth). */
export function inclusionProofFromProto(
  p: InclusionProofMessage | undefined,
  field = "proof",
): InclusionProofToCheck {
  const m = present(p, field, "an InclusionProof");
  if (m.siblings.length > MAX_PROOF_SIBLINGS) {
    throw invalidField(`${field}.siblings`, `at most ${MAX_PROOF_SIBLINGS} hashes`, `${m.siblings.length}`);
  }
  return {
    tenantId: uuid(m.tenantId, `${field}.tenant_id`),
    storeId: uuid(m.storeId, `${field}.store_id`),
    eventId: m.eventId,
    sequenceNumber: m.sequenceNumber,
    eventSigningHash: bytes(m.eventSigningHash, 32, `${field}.event_signing_hash`),
    agentSignature: bytes(m.agentSignature, 64, `${field}.agent_signature`),
    leafHash: bytes(m.leafHash, 32, `${field}.leaf_hash`),
    sequenceStart: m.sequenceStart,
    leafCount: m.leafCount,
    leafIndex: m.leafIndex,
    siblings: m.siblings.map((s, i) => bytes(s, 32, `${field}.siblings[${i}]`)),
    merkleRoot: bytes(m.merkleRoot, 32, `${field}.merkle_root`),
  };
}

/** A Commitment message from a client, as the signed fields of a checkpoint. */
export function checkpointFromProto(
  c: CommitmentMessage | undefined,
  field = "checkpoint",
): CheckpointToCheck & { sequencerKeyId: string } {
  const m = present(c, field, "a Commitment");
  return {
    tenantId: uuid(m.tenantId, `${field}.tenant_id`),
    storeId: uuid(m.storeId, `${field}.store_id`),
    sequenceStart: m.sequenceStart,
    sequenceEnd: m.sequenceEnd,
    leafCount: m.leafCount,
    merkleRoot: bytes(m.merkleRoot, 32, `${field}.merkle_root`),
    prevStateRoot: bytes(m.prevStateRoot, 32, `${field}.prev_state_root`),
    newStateRoot: bytes(m.newStateRoot, 32, `${field}.new_state_root`),
    checkpointHash:
      m.checkpointHash.length === 0
        ? m.checkpointHash
        : bytes(m.checkpointHash, 32, `${field}.checkpoint_hash`),
    signature: bytes(m.signature, 64, `${field}.signature`),
    sequencerKeyId: m.sequencerKeyId,
  };
}

export function receiptFromProto(
  r: ReceiptMessage | undefined,
  field = "receipt",
): ReceiptToCheck & { sequencerKeyId: string } {
  const m = present(r, field, "a Receipt");
  return {
    tenantId: uuid(m.tenantId, `${field}.tenant_id`),
    storeId: uuid(m.storeId, `${field}.store_id`),
    eventId: uuid(m.eventId, `${field}.event_id`),
    sequenceNumber: m.sequenceNumber,
    eventSigningHash: bytes(m.eventSigningHash, 32, `${field}.event_signing_hash`),
    receiptHash: bytes(m.receiptHash, 32, `${field}.receipt_hash`),
    sequencerSignature: bytes(m.sequencerSignature, 64, `${field}.sequencer_signature`),
    sequencerKeyId: m.sequencerKeyId,
  };
}

export function consistencyProofFromProto(
  p: ConsistencyProofMessage | undefined,
  field = "proof",
): ConsistencyProof {
  const m = present(p, field, "a ConsistencyProof");
  if (m.links.length > MAX_CONSISTENCY_LINKS) {
    throw invalidField(`${field}.links`, `at most ${MAX_CONSISTENCY_LINKS} links`, `${m.links.length}`);
  }
  return {
    tenantId: uuid(m.tenantId, `${field}.tenant_id`),
    storeId: uuid(m.storeId, `${field}.store_id`),
    fromSequenceEnd: m.fromSequenceEnd,
    fromStateRoot: bytes(m.fromStateRoot, 32, `${field}.from_state_root`),
    toSequenceEnd: m.toSequenceEnd,
    toStateRoot: bytes(m.toStateRoot, 32, `${field}.to_state_root`),
    links: m.links.map((l, i) => ({
      sequenceStart: l.sequenceStart,
      sequenceEnd: l.sequenceEnd,
      leafCount: l.leafCount,
      merkleRoot: bytes(l.merkleRoot, 32, `${field}.links[${i}].merkle_root`),
    })),
  };
}
