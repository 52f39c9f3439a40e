// ProofService: commitments, sync state, inclusion and consistency proofs, and stateless verification.
import type { ProofService } from "../../gen/ves/sequencer/v1/proof_pb.js";
import { getCommitment } from "../app/getCommitment.js";
import { getConsistencyProof } from "../app/getConsistencyProof.js";
import { getInclusionProof } from "../app/getInclusionProof.js";
import { getInclusionProofs } from "../app/getInclusionProofs.js";
import { getSyncState } from "../app/getSyncState.js";
import { listCommitments } from "../app/listCommitments.js";
import type { CommitmentSelector, EventSelector, ProofDeps } from "../app/ports.js";
import type { Ed25519 } from "../crypto/ed25519.js";
import type { Sha256 } from "../crypto/sha256.js";
import { invalidField } from "../domain/errors.js";
import {
  checkConsistencyProof,
  checkInclusionProof,
  checkReceipt,
  checkSealedReceipt,
  type Verdict,
} from "../domain/proofChecks.js";
import { receiptToProto } from "./convert.js";
import type { ContextFreeServiceImpl } from "./grpcUnary.js";
import {
  checkpointFromProto,
  commitmentToProto,
  consistencyProofFromProto,
  consistencyProofToProto,
  inclusionProofFromProto,
  inclusionProofToProto,
  receiptFromProto,
} from "./proofConvert.js";

export interface ProofServiceOptions {
  readonly deps: ProofDeps;
  readonly crypto: { readonly sha256: Sha256; readonly ed25519: Ed25519 };
  /** Every receipt-signing key the log has seen, to check receipts and checkpoints by their key id. */
  readonly signingKeys: () => Promise<{ keyId: string; publicKey: Uint8Array }[]>;
}

function verdictToProto(v: Verdict<string>): { valid: boolean; reason: string; message: string } {
  return v.valid ? { valid: true, reason: "", message: "" } : v;
}

function optionalBytes(value: Uint8Array, length: number, field: string): Uint8Array | undefined {
  if (value.length === 0) return undefined;
  if (value.length !== length)
    throw invalidField(field, `${length} bytes (or none)`, `${value.length} bytes`);
  return value;
}

export function createProofService(opts: ProofServiceOptions): ContextFreeServiceImpl<typeof ProofService> {
  const { deps, crypto } = opts;
  return {
    async getCommitment(req) {
      const s = req.selector;
      const selector: CommitmentSelector | undefined =
        s.case === "commitmentId"
          ? { commitmentId: s.value }
          : s.case === "sequenceNumber"
            ? { sequenceNumber: s.value }
            : undefined;
      const c = await getCommitment(deps, req.tenantId, req.storeId, selector);
      return { commitment: commitmentToProto(c) };
    },

    async listCommitments(req) {
      const page = await listCommitments(deps, req.tenantId, req.storeId, req.pageSize, req.pageToken);
      return { commitments: page.commitments.map(commitmentToProto), nextPageToken: page.nextPageToken };
    },

    async getSyncState(req) {
      const state = await getSyncState(deps, req.tenantId, req.storeId);
      return {
        ...state.stream,
        headSequence: state.head,
        sealedSequence: state.sealedEnd,
        stateRoot: state.stateRoot,
        latestCommitment: state.latest === undefined ? undefined : commitmentToProto(state.latest),
      };
    },

    async getInclusionProof(req) {
      const s = req.selector;
      const selector: EventSelector | undefined =
        s.case === "eventId"
          ? { eventId: s.value }
          : s.case === "sequenceNumber"
            ? { sequenceNumber: s.value }
            : undefined;
      const expectedRoot = req.expectedRoot.length === 0 ? undefined : req.expectedRoot;
      const r = await getInclusionProof(deps, req.tenantId, req.storeId, selector, expectedRoot);
      return {
        proof: inclusionProofToProto(r.proof),
        commitment: commitmentToProto(r.commitment),
        receipt: receiptToProto(r.receipt),
      };
    },

    async getInclusionProofs(req) {
      const r = await getInclusionProofs(deps, req.tenantId, req.storeId, req.sequenceNumbers);
      return {
        commitments: r.groups.map((g) => commitmentToProto(g.commitment)),
        proofs: r.groups.flatMap((g) => g.proofs.map(inclusionProofToProto)),
        unsealedSequenceNumbers: r.unsealed,
      };
    },

    async getConsistencyProof(req) {
      const r = await getConsistencyProof(
        deps,
        req.tenantId,
        req.storeId,
        req.fromCommitmentId,
        req.toCommitmentId,
      );
      return {
        proof: consistencyProofToProto(r.proof),
        from: r.from === undefined ? undefined : commitmentToProto(r.from),
        to: commitmentToProto(r.to),
      };
    },

    async verifyInclusionProof(req) {
      const proof = inclusionProofFromProto(req.proof);
      const expectedRoot = optionalBytes(req.expectedRoot, 32, "expected_root");
      return verdictToProto(checkInclusionProof(crypto.sha256, proof, expectedRoot));
    },

    async verifyReceipt(req) {
      const receipt = receiptFromProto(req.receipt);
      const explicitKey = optionalBytes(req.sequencerPublicKey, 32, "sequencer_public_key");
      const expectedSigningHash = optionalBytes(req.expectedSigningHash, 32, "expected_signing_hash");
      if ((req.proof === undefined) !== (req.checkpoint === undefined)) {
        const missing = req.proof === undefined ? "proof" : "checkpoint";
        throw invalidField(missing, "proof and checkpoint together (or neither)", "only the other one");
      }
      const proof = req.proof === undefined ? undefined : inclusionProofFromProto(req.proof);
      const checkpoint = req.checkpoint === undefined ? undefined : checkpointFromProto(req.checkpoint);
      const keys = explicitKey === undefined ? await opts.signingKeys() : [];
      const keyFor = (keyId: string): Uint8Array | undefined =>
        explicitKey ?? keys.find((k) => k.keyId === keyId)?.publicKey;
      const receiptKey = keyFor(receipt.sequencerKeyId);
      if (receiptKey === undefined) {
        return {
          valid: false,
          reason: "unknown_sequencer_key",
          message: `the receipt's sequencer_key_id ${JSON.stringify(receipt.sequencerKeyId)} is not a key of this sequencer`,
        };
      }
      if (proof === undefined || checkpoint === undefined) {
        return verdictToProto(checkReceipt(crypto, receipt, receiptKey, expectedSigningHash));
      }
      const checkpointKey = keyFor(checkpoint.sequencerKeyId);
      if (checkpointKey === undefined) {
        return {
          valid: false,
          reason: "unknown_sequencer_key",
          message: `the checkpoint's sequencer_key_id ${JSON.stringify(checkpoint.sequencerKeyId)} is not a key of this sequencer`,
        };
      }
      return verdictToProto(
        checkSealedReceipt(
          crypto,
          { receipt, proof, checkpoint },
          { receiptKey, checkpointKey },
          expectedSigningHash,
        ),
      );
    },

    async verifyConsistencyProof(req) {
      return verdictToProto(checkConsistencyProof(crypto.sha256, consistencyProofFromProto(req.proof)));
    },
  };
}
