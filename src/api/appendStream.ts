// The Append bidirectional stream: batches are read and prepared (validation, crypto) concurrently, sequenced
// strictly in arrival order, and answered in that order. At most `maxInFlight` batches are held; past that the
// server stops reading and HTTP/2 flow control pushes back on the client.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  type AppendRequest,
  type AppendResponse,
  AppendResponseSchema,
  BatchResultSchema,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { type BatchOutcome, prepareBatch, sequenceBatch } from "../app/appendBatch.js";
import type { AppendDeps } from "../app/ports.js";
import { DomainError } from "../domain/errors.js";
import type { Admission } from "./admission.js";
import { batchOutcomeToProto, eventFromProto } from "./convert.js";
import { codeName, toConnectError } from "./errors.js";

export interface AppendStreamOptions {
  readonly deps: AppendDeps;
  readonly log: Logger;
  readonly maxInFlight: number;
  /** Shared by every stream and unary call: bounds the batches held in memory, server-wide and per tenant. */
  readonly admission: Admission;
  /** Aborted when the server starts shutting down: stop reading, finish what was read, then end. */
  readonly shutdown: AbortSignal;
  readonly onBatch?: (outcome: BatchOutcome, ms: number) => void;
}

function batchErrorResponse(batchId: string, err: ConnectError): AppendResponse {
  const field = err.cause instanceof DomainError ? (err.cause.field ?? "") : "";
  return create(AppendResponseSchema, {
    kind: {
      case: "batchResult",
      value: create(BatchResultSchema, {
        batchId,
        error: { code: codeName(err.code), message: err.rawMessage, field },
      }),
    },
  });
}

/**
 * The iterator's next result, or "done" as soon as `signal` aborts. (Not Promise.race against one long-lived
 * promise: every race would leave a reaction on it holding that batch, for the life of the stream.)
 */
function nextOrStop<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  if (signal.aborted) return Promise.resolve({ done: true, value: undefined });
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve({ done: true, value: undefined });
    signal.addEventListener("abort", onAbort, { once: true });
    it.next().then(
      (r) => {
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/** The key batches are admitted by: the batch's tenant (a batch is one stream; an empty one has none). */
export function tenantOf(req: { readonly events: readonly { readonly tenantId: string }[] }): string {
  return req.events[0]?.tenantId ?? "";
}

function stoppedError(): ConnectError {
  return new ConnectError(
    "the stream ended before this batch could be admitted; it was not sequenced; resend it",
    Code.Unavailable,
  );
}

export async function* appendStream(
  requests: AsyncIterable<AppendRequest>,
  signal: AbortSignal,
  requestId: string,
  opts: AppendStreamOptions,
): AsyncGenerator<AppendResponse> {
  const { deps, log } = opts;
  const queue: Promise<AppendResponse>[] = [];
  let readerDone = false;
  let readError: unknown;
  let wake: (() => void) | undefined;
  let slotFree: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  // Batches are sequenced one after another, in the order they arrived.
  let chain: Promise<unknown> = Promise.resolve();

  const stop = AbortSignal.any([signal, opts.shutdown]);
  const reader = (async () => {
    const it = requests[Symbol.asyncIterator]();
    try {
      while (!stop.aborted) {
        while (queue.length >= opts.maxInFlight) {
          await new Promise<void>((r) => {
            slotFree = r;
          });
        }
        // Wait for the batch first, holding nothing: a stream waiting for its client takes no shared slot.
        const next = await nextOrStop(it, stop);
        if (next.done) break;
        const req = next.value;
        const release = await opts.admission.acquire(tenantOf(req), stop).catch(() => undefined);
        if (release === undefined) {
          // Stopped while waiting for a slot: a batch that was read is still answered, never dropped.
          queue.push(Promise.resolve(batchErrorResponse(req.batchId, stoppedError())));
          notify();
          break;
        }
        const started = performance.now();
        const prepared = prepareBatch(deps, req.batchId, req.events.map(eventFromProto));
        // Keep a rejected `prepared` from being reported as unhandled while it waits its turn.
        prepared.catch(() => {});
        const outcome = chain.then(() => prepared).then((p) => sequenceBatch(deps, p));
        chain = outcome.catch(() => {});
        outcome.then(release, release);
        queue.push(
          outcome.then(
            (o) => {
              opts.onBatch?.(o, performance.now() - started);
              return create(AppendResponseSchema, {
                kind: { case: "batchResult", value: batchOutcomeToProto(o) },
              });
            },
            (err: unknown) => batchErrorResponse(req.batchId, toConnectError(err, log, requestId)),
          ),
        );
        notify();
      }
    } catch (err) {
      readError = err;
    } finally {
      if (stop.aborted) void it.return?.()?.catch(() => {});
      readerDone = true;
      notify();
    }
  })();

  try {
    for (;;) {
      const head = queue[0];
      if (head === undefined) {
        if (readerDone) break;
        await new Promise<void>((r) => {
          wake = r;
        });
        continue;
      }
      const response = await head;
      queue.shift();
      slotFree?.();
      slotFree = undefined;
      yield response;
    }
    await reader;
    if (readError !== undefined) throw readError;
    if (opts.shutdown.aborted && !signal.aborted) {
      throw new ConnectError(
        "the sequencer is shutting down; every batch read so far was answered; reconnect and send the rest",
        Code.Unavailable,
      );
    }
  } finally {
    // The client went away or the stream failed: let already-started batches finish (they may commit, and a
    // client that resends them gets replayed receipts), but read nothing more.
    await Promise.allSettled(queue);
  }
}
