// AnchorService: anchor status of a commitment (or of the commitment covering an event) and a server-side check
// of its anchor against the chain (anchor.proto).
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type AnchorSelector as AnchorSelectorMessage,
  type AnchorService,
  AnchorState,
} from "../../gen/ves/sequencer/v1/anchor_pb.js";
import type { AnchorReadDeps } from "../app/anchorPorts.js";
import { type AnchorSelector, getAnchorStatus } from "../app/getAnchorStatus.js";
import { verifyAnchor } from "../app/verifyAnchor.js";
import { hexToBytes } from "../crypto/bytes.js";
import type { Hex32 } from "../domain/anchor.js";
import type { ContextFreeServiceImpl } from "./grpcUnary.js";
import { commitmentToProto } from "./proofConvert.js";

const STATES = {
  not_anchored: AnchorState.NOT_ANCHORED,
  submitted: AnchorState.SUBMITTED,
  included: AnchorState.INCLUDED,
  final: AnchorState.FINAL,
} as const;

const raw = (hex: Hex32 | undefined): Uint8Array =>
  hex === undefined ? new Uint8Array(0) : hexToBytes(hex.slice(2));

function selectorFromProto(s: AnchorSelectorMessage | undefined): AnchorSelector | undefined {
  const sel = s?.selector;
  if (sel === undefined) return undefined;
  switch (sel.case) {
    case "commitmentId":
      return { commitmentId: sel.value };
    case "sequenceNumber":
      return { sequenceNumber: sel.value };
    case "eventId":
      return { eventId: sel.value };
    default:
      return undefined;
  }
}

export function createAnchorService(deps: AnchorReadDeps): ContextFreeServiceImpl<typeof AnchorService> {
  const target = () =>
    deps.anchors === undefined
      ? undefined
      : {
          chainId: BigInt(deps.anchors.chainId),
          contractAddress: raw(deps.anchors.contractAddress),
          confirmations: deps.anchors.confirmations,
        };
  return {
    async getAnchorStatus(req) {
      const s = await getAnchorStatus(deps, req.tenantId, req.storeId, selectorFromProto(req.selector));
      return {
        state: STATES[s.state],
        commitment: commitmentToProto(s.commitment),
        target: target(),
        txHash: raw(s.record?.txHash),
        blockNumber: s.record?.blockNumber ?? 0n,
        blockHash: raw(s.record?.blockHash),
        depth: s.depth,
        lastFailure:
          s.failure === undefined
            ? undefined
            : {
                reason: s.failure.reason,
                message: s.failure.message,
                failures: s.failure.failures,
                failedAt: timestampFromDate(s.failure.failedAt),
                retryAt: timestampFromDate(s.failure.retryAt),
              },
      };
    },

    async verifyAnchor(req) {
      const v = await verifyAnchor(deps, req.tenantId, req.storeId, selectorFromProto(req.selector));
      return {
        valid: v.check.valid,
        reason: v.check.valid ? "" : v.check.reason,
        message: v.check.valid ? "" : v.check.message,
        commitment: commitmentToProto(v.commitment),
        target: target(),
        blockNumber: v.onChain?.blockNumber ?? 0n,
        depth: v.depth,
        final: v.check.valid && v.final,
        merkleRoot: raw(v.onChain?.merkleRoot),
        prevStateRoot: raw(v.onChain?.prevStateRoot),
        newStateRoot: raw(v.onChain?.newStateRoot),
      };
    },
  };
}
