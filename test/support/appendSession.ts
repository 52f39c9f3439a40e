// A pipelined Append session over its own real HTTP/2 connection (connect-node gRPC transport): batches are
// sent as they are queued, every response is recorded in arrival order, and the way the stream ended is kept.
import { create } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Receipt } from "../../gen/ves/sequencer/v1/event_pb.js";
import {
  type AppendRequest,
  AppendRequestSchema,
  type BatchResult,
  SequencerService,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { SignedEvent } from "../../src/client/signEvent.js";
import { signedEventToProto } from "../../src/client/toProto.js";
import type { TestAgent } from "./agent.js";
import { TEST_ADMIN_KEY, withCredential } from "./sequencer.js";

/** A batch as the client built it: the signed events (with their signing hashes) and the request. */
export interface TestBatch {
  readonly batchId: string;
  readonly events: readonly SignedEvent[];
  readonly request: AppendRequest;
}

export function makeBatch(agent: TestAgent, size: number, batchId = crypto.randomUUID()): TestBatch {
  const events = Array.from({ length: size }, () => agent.event());
  return {
    batchId,
    events,
    request: create(AppendRequestSchema, { batchId, events: events.map(signedEventToProto) }),
  };
}

/** The receipts of a batch result, in request order; throws if any event was rejected or the batch failed. */
export function receiptsOf(result: BatchResult): { receipt: Receipt; replayed: boolean }[] {
  if (result.error !== undefined) {
    throw new Error(`batch ${result.batchId} failed: ${result.error.code}: ${result.error.message}`);
  }
  return result.results.map((r, i) => {
    if (r.outcome.case !== "receipt") {
      const why = r.outcome.case === "rejection" ? r.outcome.value.message : "no outcome";
      throw new Error(`batch ${result.batchId} event ${i} (${r.eventId}) has no receipt: ${why}`);
    }
    return { receipt: r.outcome.value, replayed: r.replayed };
  });
}

export interface AppendSession {
  /** Queues a batch; it is sent as soon as the transport takes it. */
  send(request: AppendRequest): void;
  /** Half-closes: no more batches; the server answers what it has and ends the stream. */
  close(): void;
  /** Every batch result, in the order received. */
  readonly results: readonly BatchResult[];
  /** Called for each result as it arrives (its index in `results`). */
  onResult: ((result: BatchResult, index: number) => void) | undefined;
  /**
   * Resolves when the response stream ended: undefined for OK, else the error it ended with. Rejects with what
   * onResult threw, if it threw.
   */
  readonly ended: Promise<ConnectError | undefined>;
  /** Drops the connection. */
  abort(): void;
}

/** Opens an Append stream to `baseUrl` over a connection of its own. */
export function openAppendSession(baseUrl: string, credential: string = TEST_ADMIN_KEY): AppendSession {
  const sessionManager = new Http2SessionManager(baseUrl);
  const client = createClient(
    SequencerService,
    createGrpcTransport({ baseUrl, sessionManager, interceptors: [withCredential(credential)] }),
  );
  const pending: AppendRequest[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  async function* requests(): AsyncGenerator<AppendRequest> {
    for (;;) {
      const next = pending.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (closed) return;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  }
  const results: BatchResult[] = [];
  const session: Omit<AppendSession, "ended"> = {
    send(request) {
      if (closed) throw new Error("append session is closed");
      pending.push(request);
      notify();
    },
    close() {
      closed = true;
      notify();
    },
    results,
    onResult: undefined,
    abort() {
      sessionManager.abort();
    },
  };
  // A failed assertion in onResult (or an unexpected response) must fail the test, not pass for a stream error.
  let testError: unknown;
  const ended = (async (): Promise<ConnectError | undefined> => {
    try {
      for await (const res of client.append(requests())) {
        try {
          if (res.kind.case !== "batchResult") throw new Error(`unexpected response ${res.kind.case}`);
          results.push(res.kind.value);
          session.onResult?.(res.kind.value, results.length - 1);
        } catch (err) {
          testError = err;
          break;
        }
      }
      return undefined;
    } catch (err) {
      return ConnectError.from(err);
    } finally {
      closed = true;
      notify();
      sessionManager.abort();
    }
  })().then((end) => {
    if (testError !== undefined) throw testError;
    return end;
  });
  return Object.assign(session, { ended });
}
