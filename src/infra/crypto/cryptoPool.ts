// A fixed pool of crypto worker threads that runs ingest verification and receipt signing off the event loop.
import type { Worker } from "node:worker_threads";
import type { EventVerifier, ReceiptSigner } from "../../app/ports.js";
import { ZERO32 } from "../../crypto/bytes.js";
import { eventSigningPreimage } from "../../crypto/eventSigningHash.js";
import { RECEIPT_PREIMAGE_BYTES, writeReceiptPreimage } from "../../crypto/receiptHash.js";
import type { VerifiedEvent } from "../../domain/decideBatch.js";
import type { CheckedEvent } from "../../domain/event.js";
import { type Rejection, reject, rejectField } from "../../domain/rejection.js";
import { startTsWorker } from "../startTsWorker.js";
import type { WorkerRequest, WorkerResponse } from "./cryptoWorker.js";
import {
  encodeVerifyWork,
  FLAG_HAS_KEY,
  FLAG_PLAIN_HASH_GIVEN,
  FLAG_PLAINTEXT,
  RESULT_BYTES,
  STATUS,
  type VerifyWork,
} from "./verifyCodec.js";

export interface CryptoPoolOptions {
  readonly size: number;
  /** 32-byte Ed25519 seed of the receipt-signing key. */
  readonly signingSeed: Uint8Array;
  /** Called when a worker dies; the pool replaces it. */
  readonly onWorkerError?: (err: Error) => void;
}

export interface CryptoPool extends EventVerifier {
  signReceipts: ReceiptSigner["signReceipts"];
  close(): Promise<void>;
}

interface Pending {
  resolve: (res: WorkerResponse) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Pending>;
  dead: boolean;
}

// Below this many events per chunk the dispatch overhead outweighs spreading the work.
const MIN_CHUNK = 64;
const WORKER_URL = new URL("./cryptoWorker.ts", import.meta.url);
const RESPAWN_DELAY_MS = 500;

function toWork(e: CheckedEvent, publicKey: Uint8Array | undefined): VerifyWork {
  const preimage = eventSigningPreimage({
    vesVersion: 1,
    tenantId: e.tenantId,
    storeId: e.storeId,
    eventId: e.eventId,
    sourceAgentId: e.sourceAgentId,
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt,
    payloadKind: e.payloadKind,
    payloadPlainHash: e.payloadPlainHash ?? ZERO32,
    payloadCipherHash: e.payloadCipherHash,
  });
  return {
    flags:
      (publicKey !== undefined ? FLAG_HAS_KEY : 0) |
      (e.payloadPlainHash !== undefined ? FLAG_PLAIN_HASH_GIVEN : 0) |
      (e.payloadKind === 0 ? FLAG_PLAINTEXT : 0),
    publicKey,
    signature: e.agentSignature,
    preimage,
    payload: e.payload,
  };
}

function payloadProblem(status: number, message: string | undefined): Rejection | undefined {
  if (status === STATUS.badPayloadJson) {
    return rejectField("payload", "UTF-8 JSON text (RFC 8259)", message ?? "unparseable bytes");
  }
  if (status === STATUS.payloadHashMismatch) {
    return reject(
      "invalid_payload_hash",
      '"payload_plain_hash" does not match H("VES_PAYLOAD_PLAIN_V1" || JCS(payload)) of the payload',
      { field: "payload_plain_hash" },
    );
  }
  return undefined;
}

export function createCryptoPool(options: CryptoPoolOptions): CryptoPool {
  let nextId = 1;
  let closed = false;
  const slots: Slot[] = [];

  const spawn = (index: number): void => {
    // Workers hold only the chunk in hand: a small young generation keeps their footprint down, and the old
    // generation cap turns a runaway into a replaced worker instead of a swapping process.
    const worker = startTsWorker(
      WORKER_URL,
      { signingSeed: options.signingSeed },
      { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 },
    );
    const slot: Slot = { worker, inFlight: new Map(), dead: false };
    worker.on("message", (res: WorkerResponse) => {
      const p = slot.inFlight.get(res.id);
      if (p === undefined) return;
      slot.inFlight.delete(res.id);
      if (res.failure !== undefined) p.reject(new Error(`crypto worker: ${res.failure}`));
      else p.resolve(res);
    });
    const fail = (err: Error): void => {
      slot.dead = true;
      for (const p of slot.inFlight.values()) p.reject(err);
      slot.inFlight.clear();
      if (!closed && slots[index] === slot) {
        options.onWorkerError?.(err);
        // Wait a little before replacing it, so a worker that cannot start does not spin.
        setTimeout(() => {
          if (!closed && slots[index] === slot) spawn(index);
        }, RESPAWN_DELAY_MS).unref();
      }
    };
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (!closed) fail(new Error(`crypto worker exited with code ${code}`));
    });
    worker.unref();
    slots[index] = slot;
  };
  for (let i = 0; i < Math.max(1, options.size); i++) spawn(i);

  const run = (op: WorkerRequest["op"], buffer: ArrayBuffer): Promise<WorkerResponse> => {
    if (closed) return Promise.reject(new Error("crypto pool is closed"));
    let slot: Slot | undefined;
    for (const s of slots)
      if (!s.dead && (slot === undefined || s.inFlight.size < slot.inFlight.size)) slot = s;
    if (slot === undefined) return Promise.reject(new Error("no crypto worker is running"));
    const target = slot;
    const id = nextId++;
    return new Promise((resolve, rejectPromise) => {
      target.inFlight.set(id, { resolve, reject: rejectPromise });
      target.worker.postMessage({ id, op, buffer } satisfies WorkerRequest, [buffer]);
    });
  };

  const chunks = <T>(items: readonly T[]): T[][] => {
    const size = Math.max(MIN_CHUNK, Math.ceil(items.length / slots.length));
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
    return out;
  };

  return {
    async verify(items) {
      const parts = await Promise.all(
        chunks(items).map(async (part) => {
          const work = part.map((it) => toWork(it.event, it.publicKey));
          const res = await run("verify", encodeVerifyWork(work));
          const out = new Uint8Array(res.buffer as ArrayBuffer);
          const errors = new Map(res.errors ?? []);
          return part.map((_, j): VerifiedEvent => {
            const o = j * RESULT_BYTES;
            const status = out[o] as number;
            return {
              signingHash: out.slice(o + 1, o + 33),
              // The plain hash the event is signed with: as sent, or as the worker computed it.
              plainHash: out.slice(o + 33, o + 65),
              payloadProblem: payloadProblem(status, errors.get(j)),
              signatureValid:
                status === STATUS.verified
                  ? true
                  : status === STATUS.badSignature
                    ? false
                    : status === STATUS.noKey
                      ? undefined
                      : false,
            };
          });
        }),
      );
      return parts.flat();
    },

    async signReceipts(stream, items) {
      const parts = await Promise.all(
        chunks(items).map(async (part) => {
          const input = new Uint8Array(part.length * RECEIPT_PREIMAGE_BYTES);
          for (const [j, it] of part.entries()) {
            writeReceiptPreimage(input, j * RECEIPT_PREIMAGE_BYTES, { ...stream, ...it });
          }
          const res = await run("sign", input.buffer);
          const out = new Uint8Array(res.buffer as ArrayBuffer);
          return part.map((_, j) => ({
            receiptHash: out.subarray(j * 96, j * 96 + 32),
            signature: out.subarray(j * 96 + 32, j * 96 + 96),
          }));
        }),
      );
      return parts.flat();
    },

    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
