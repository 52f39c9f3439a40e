// SequencerService: Append (bidi), AppendBatch, GetHead, GetSequencerInfo.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { appendBatch, type BatchOutcome } from "../app/appendBatch.js";
import type { AppendDeps } from "../app/ports.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { Admission } from "./admission.js";
import { appendStream } from "./appendStream.js";
import { kRequestId } from "./context.js";
import { batchOutcomeToProto, eventFromProto } from "./convert.js";
import { type ReceiptUpgradesOptions, withReceiptUpgrades } from "./receiptUpgrades.js";

export interface SequencerServiceOptions {
  readonly deps: AppendDeps;
  readonly admission: Admission;
  readonly log: Logger;
  readonly shutdown: AbortSignal;
  readonly serverVersion: string;
  /** Every receipt-signing key the log has seen, current first. */
  readonly signingKeys: () => Promise<{ keyId: string; publicKey: Uint8Array; current: boolean }[]>;
  readonly onBatch?: (outcome: BatchOutcome, ms: number) => void;
  /** Receipt upgrades on the Append stream (AppendRequest.receipt_upgrades); unset: the flag is ignored. */
  readonly receiptUpgrades?: ReceiptUpgradesOptions;
}

export function createSequencerService(opts: SequencerServiceOptions): ServiceImpl<typeof SequencerService> {
  const { deps } = opts;
  return {
    append(requests, ctx) {
      const run = (reqs: typeof requests) =>
        appendStream(reqs, ctx.signal, ctx.values.get(kRequestId), {
          deps,
          log: opts.log,
          maxInFlight: deps.limits.maxInFlightBatches,
          admission: opts.admission,
          shutdown: opts.shutdown,
          ...(opts.onBatch === undefined ? {} : { onBatch: opts.onBatch }),
        });
      const upgrades = opts.receiptUpgrades;
      return upgrades === undefined
        ? run(requests)
        : withReceiptUpgrades(requests, ctx.signal, run, upgrades);
    },

    async appendBatch(req, ctx) {
      const release = await opts.admission.acquire(ctx.signal);
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

    async getSequencerInfo() {
      const keys = await opts.signingKeys();
      return {
        sequencerId: deps.signer.sequencerId,
        protocolVersion: "VES/1.0",
        signingKeys: keys.map((k) => ({ ...k, algorithm: "ed25519" })),
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
