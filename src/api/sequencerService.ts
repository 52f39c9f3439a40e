// SequencerService: Append (bidi, optionally with a subscription), AppendBatch, GetHead, GetSequencerInfo,
// PullEvents, GetEntityHistory, Subscribe.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { appendBatch, type BatchOutcome } from "../app/appendBatch.js";
import { getEntityHistory } from "../app/getEntityHistory.js";
import type { AppendDeps } from "../app/ports.js";
import { pullEvents } from "../app/pullEvents.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { Admission } from "./admission.js";
import { appendStream, tenantOf } from "./appendStream.js";
import { kRequestId } from "./context.js";
import { batchOutcomeToProto, eventFromProto } from "./convert.js";
import { entityHistoryResponse, isBinaryCodec, pullEventsResponse } from "./readResponses.js";
import { type ReceiptUpgradesOptions, withReceiptUpgrades } from "./receiptUpgrades.js";
import type { SequencerKeyView } from "./sequencerKeys.js";
import { type ReadApiOptions, subscribeStream } from "./subscribeStream.js";
import { syncStream } from "./syncStream.js";

export interface SequencerServiceOptions {
  readonly deps: AppendDeps;
  readonly admission: Admission;
  readonly log: Logger;
  readonly shutdown: AbortSignal;
  readonly serverVersion: string;
  /** Every receipt-signing key the log has seen, current first. */
  readonly signingKeys: () => Promise<SequencerKeyView[]>;
  readonly onBatch?: (outcome: BatchOutcome, ms: number) => void;
  /** Receipt upgrades on the Append stream (AppendRequest.receipt_upgrades); unset: the flag is ignored. */
  readonly receiptUpgrades?: ReceiptUpgradesOptions;
  readonly read: ReadApiOptions;
  /** An Append stream with no request for this long (and no subscription) ends with UNAVAILABLE; 0: never. */
  readonly appendIdleTimeoutMs?: number;
}

export function createSequencerService(opts: SequencerServiceOptions): ServiceImpl<typeof SequencerService> {
  const { deps } = opts;
  return {
    append(requests, ctx) {
      const requestId = ctx.values.get(kRequestId);
      // Batches go through appendStream; receipt upgrades (if asked for) wrap it; a subscription (if asked
      // for) interleaves the log's events with both.
      return syncStream(
        requests,
        ctx,
        opts.read,
        (batches, signal) => {
          const run = (reqs: typeof batches) =>
            appendStream(reqs, signal, requestId, {
              deps,
              log: opts.log,
              maxInFlight: deps.limits.maxInFlightBatches,
              admission: opts.admission,
              shutdown: opts.shutdown,
              ...(opts.onBatch === undefined ? {} : { onBatch: opts.onBatch }),
            });
          const upgrades = opts.receiptUpgrades;
          return upgrades === undefined ? run(batches) : withReceiptUpgrades(batches, signal, run, upgrades);
        },
        opts.appendIdleTimeoutMs ?? 0,
      );
    },

    async appendBatch(req, ctx) {
      const release = await opts.admission.acquire(tenantOf(req), ctx.signal);
      try {
        const started = performance.now();
        const outcome = await appendBatch(deps, req.batchId, req.events.map(eventFromProto));
        opts.onBatch?.(outcome, performance.now() - started);
        return { result: batchOutcomeToProto(outcome) };
      } finally {
        release();
      }
    },

    async getHead(req) {
      const stream = parseStreamKey(req.tenantId, req.storeId);
      return { ...stream, headSequence: await deps.log.head(stream) };
    },

    async pullEvents(req, ctx) {
      const result = await pullEvents(opts.read, {
        tenantId: req.tenantId,
        storeId: req.storeId,
        fromSequence: req.fromSequence,
        limit: req.limit,
        filter: req.filter,
      });
      return pullEventsResponse(result, isBinaryCodec(ctx.requestHeader));
    },

    async getEntityHistory(req, ctx) {
      const history = await getEntityHistory(opts.read, {
        tenantId: req.tenantId,
        storeId: req.storeId,
        entityType: req.entityType,
        entityId: req.entityId,
        fromVersion: req.fromVersion,
        limit: req.limit,
      });
      return entityHistoryResponse(history, isBinaryCodec(ctx.requestHeader));
    },

    subscribe(req, ctx) {
      return subscribeStream(req, ctx, opts.read);
    },

    async getSequencerInfo() {
      const keys = await opts.signingKeys();
      return {
        sequencerId: deps.signer.sequencerId,
        protocolVersion: "VES/1.0",
        signingKeys: keys.map((k) => ({
          keyId: k.keyId,
          publicKey: k.publicKey,
          algorithm: "ed25519",
          current: k.current,
          validFrom: timestampFromDate(k.validFrom),
          lastSeenAt: timestampFromDate(k.lastSeenAt),
        })),
        limits: {
          maxEventsPerBatch: deps.limits.maxEventsPerBatch,
          maxPayloadBytes: deps.limits.maxPayloadBytes,
          maxMessageBytes: deps.limits.maxMessageBytes,
          maxInFlightBatches: deps.limits.maxInFlightBatches,
        },
        serverVersion: opts.serverVersion,
      };
    },
  };
}
