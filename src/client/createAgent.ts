// Agent SDK: the producer. Signs events, batches them by size and linger (like a Kafka producer), keeps several
// batches in flight on one Append stream, verifies every receipt against the pinned sequencer key, reconnects
// with exponential backoff and jitter and resends unanswered batches unchanged (the server's exact-replay rule,
// ves-protocol.md §4 and §16.6, then returns the same receipts). Browser-safe: the caller passes a transport.
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import type { EventResult, Receipt } from "../../gen/ves/sequencer/v1/event_pb.js";
import { RejectionReason as ProtoRejectionReason } from "../../gen/ves/sequencer/v1/event_pb.js";
import {
  type Commitment,
  type InclusionProof,
  ProofService,
  type ReceiptUpgrade,
} from "../../gen/ves/sequencer/v1/proof_pb.js";
import {
  type AppendRequest,
  type BatchResult,
  SequencerService,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { assertVerifyArguments } from "../crypto/ed25519Encoding.js";
import { checkReceiptFields } from "../domain/proofChecks.js";
import type { RejectionReason } from "../domain/rejection.js";
import { AgentError } from "./agentError.js";
import {
  type AnchoredEvent,
  type AnchorUpgradesOptions,
  type AnchorWaits,
  createAnchorWaits,
} from "./anchorWaits.js";
import { createPushQueue, type PushQueue } from "./pushQueue.js";
import {
  type AgentSigner,
  portableCrypto,
  type SignedEvent,
  type SigningCrypto,
  signEvent,
  type UnsignedEvent,
} from "./signEvent.js";
import { signedEventToProto } from "./toProto.js";
import { verifyReceipt } from "./verifyReceipt.js";

/** An event as the agent's caller writes it: the stream and the agent's identity come from the agent. */
export type AgentEvent = Omit<UnsignedEvent, "tenantId" | "storeId" | "sourceAgentId" | "agentKeyId">;

export interface ReconnectOptions {
  /** First delay after a failure (default 100 ms); doubles per failed attempt, with jitter. */
  readonly initialDelayMs?: number;
  /** Largest delay between attempts (default 5,000 ms). */
  readonly maxDelayMs?: number;
  /** Give up (every waiting append fails with `unavailable`) after this long without progress (default: never). */
  readonly giveUpAfterMs?: number;
}

export interface CreateAgentOptions {
  /** A connect transport to the sequencer (gRPC, Connect or gRPC-Web); `ves-sequencer/node` builds one from a URL. */
  readonly transport: Transport;
  /** An API key (`ves_…`), or `Bearer <JWT>`; sent as the authorization header of every call. */
  readonly credential?: string;
  readonly signer: AgentSigner;
  readonly tenantId: string;
  readonly storeId: string;
  readonly sourceAgentId: string;
  readonly agentKeyId: number;
  /** The sequencer's receipt-signing key(s), pinned out of band; a receipt must verify against one of them. */
  readonly sequencerKey: Uint8Array | readonly Uint8Array[];
  /** Events per batch (default 500, at most 1,000). */
  readonly batchSize?: number;
  /** How long a batch that is not full waits for more events (default 5 ms). */
  readonly lingerMs?: number;
  /** Batches sent and not yet answered (default 4, the server's MAX_IN_FLIGHT_BATCHES). */
  readonly maxInFlight?: number;
  /** Events appended and not yet settled; past this, `append` waits (default 10,000). */
  readonly bufferEvents?: number;
  /** Ask for receipt upgrades: each result then carries a `sealed` promise (default false). */
  readonly receiptUpgrades?: boolean;
  /** How long a `sealed` promise waits for the event to be sealed before it fails (default 60,000 ms). */
  readonly sealTimeoutMs?: number;
  /**
   * Ask for anchored upgrades (implies `receiptUpgrades`): each result then also carries an `anchored` promise,
   * fulfilled once the event's commitment is anchored and final on the server's chain and the anchor verifies.
   * An object pins the contract/chain and, with a viem public client, checks the anchor on chain (default false).
   */
  readonly anchorUpgrades?: boolean | AnchorUpgradesOptions;
  /** How long an `anchored` promise waits for the event's anchor before it fails (default 600,000 ms). */
  readonly anchorTimeoutMs?: number;
  readonly reconnect?: ReconnectOptions;
  /** Hash and signature primitives for signing and verifying (default @noble; pass native ones on a server). */
  readonly crypto?: SigningCrypto;
  /**
   * Verifies the sequencer signatures of a batch answer's receipts somewhere else than this thread (worker
   * threads: `verifyThreads` of `ves-sequencer/node`). The agent still checks every other field of each receipt
   * and recomputes its hash itself; this answers one boolean per check, in order. Appends still settle in the
   * order of the answers. If it rejects or answers with another count, the agent verifies with `crypto` instead.
   */
  readonly verifyBatch?: (checks: readonly SignatureCheck[]) => Promise<readonly boolean[]>;
  /** Jitter source (default Math.random), injectable for tests. */
  readonly random?: () => number;
  /** Told about disconnects and reconnects (for logs and progress displays). */
  readonly onConnection?: (e: ConnectionEvent) => void;
}

/** One receipt signature to verify: Ed25519 `signature` over `message` (the receipt hash) under `publicKey`. */
export interface SignatureCheck {
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  readonly publicKey: Uint8Array;
}

export type ConnectionEvent =
  | { readonly type: "connecting"; readonly attempt: number }
  | { readonly type: "disconnected"; readonly error: ConnectError; readonly retryInMs: number };

/** The inclusion proof of a sealed event and the signed checkpoint it leads to, both verified. */
export interface SealedEvent {
  readonly proof: InclusionProof;
  readonly checkpoint: Commitment;
}

export interface AppendResult {
  readonly event: SignedEvent;
  /** Verified: the sequencer's signature over exactly this event at this sequence number. */
  readonly receipt: Receipt;
  /** True when the sequencer had already sequenced this event (a resend after a lost answer). */
  readonly replayed: boolean;
  /** With `receiptUpgrades`: fulfilled once the event is sealed into a commitment (proof and checkpoint verified). */
  readonly sealed: Promise<SealedEvent> | undefined;
  /** With `anchorUpgrades`: fulfilled once that commitment's anchor verifies (receipt → proof → checkpoint → anchor). */
  readonly anchored: Promise<AnchoredEvent> | undefined;
}

export interface AgentStats {
  /** Events appended and not yet settled (queued or in flight). */
  readonly buffered: number;
  /** Appends waiting for room in the buffer. */
  readonly waiting: number;
  readonly inFlightBatches: number;
  /** Batches cut and sent so far (a resend after a reconnect is not counted again). */
  readonly batches: number;
  readonly acknowledged: number;
  readonly failed: number;
  readonly reconnects: number;
  /** True when the current Append stream has been answered by the server. */
  readonly connected: boolean;
}

export interface Agent {
  /** Signs the event and appends it; resolves with its verified receipt, rejects with an AgentError. */
  append(event: AgentEvent): Promise<AppendResult>;
  /** Appends an event signed elsewhere (e.g. kept in an outbox); it must belong to this agent's stream. */
  appendSigned(event: SignedEvent): Promise<AppendResult>;
  /** Resolves when the buffer has room (an append made then does not wait). */
  ready(): Promise<void>;
  /** Sends what is queued now and resolves when every event appended so far is settled. */
  flush(): Promise<void>;
  /** Flushes, ends the stream (after pending receipt upgrades) and refuses further appends. */
  close(): Promise<void>;
  /** Stops at once: every unsettled append fails with `closed` (it may or may not have been sequenced). */
  abort(): void;
  stats(): AgentStats;
}

const DEFAULTS = {
  batchSize: 500,
  lingerMs: 5,
  maxInFlight: 4,
  bufferEvents: 10_000,
  sealTimeoutMs: 60_000,
  anchorTimeoutMs: 600_000,
  initialDelayMs: 100,
  maxDelayMs: 5_000,
} as const;

const RETRYABLE = new Set<Code>([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Aborted,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Canceled,
]);

interface Pending {
  readonly event: SignedEvent;
  resolve(r: AppendResult): void;
  reject(e: AgentError): void;
}

interface Batch {
  readonly request: AppendRequest;
  readonly events: Pending[];
}

interface Connection {
  readonly requests: PushQueue<AppendRequest>;
  readonly abort: AbortController;
  /** True once the server answered on this stream. */
  live: boolean;
}

interface SealWait {
  readonly receipt: Receipt;
  resolve(s: SealedEvent): void;
  reject(e: AgentError): void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** A batch answer's receipts checked on this thread but for their signatures (with `verifyBatch`). */
interface Prepared {
  /** Per event: the failed field check, or undefined (its signature is among `checks`, or it has no receipt). */
  readonly problems: (string | undefined)[];
  readonly checks: { readonly index: number; readonly message: Uint8Array; readonly signature: Uint8Array }[];
}

function positiveInt(name: string, value: number | undefined, fallback: number, max = 2 ** 31): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new AgentError("invalid_argument", `"${name}" expected an integer 1..${max}, got ${v}`, {
      field: name,
    });
  }
  return v;
}

function rejectionName(r: ProtoRejectionReason): RejectionReason {
  return (ProtoRejectionReason[r] ?? "invalid_format").toLowerCase() as RejectionReason;
}

function authorization(credential: string | undefined): Record<string, string> {
  if (credential === undefined || credential === "") return {};
  return { authorization: /^(Bearer|ApiKey) /.test(credential) ? credential : `ApiKey ${credential}` };
}

export function createAgent(opts: CreateAgentOptions): Agent {
  const batchSize = positiveInt("batchSize", opts.batchSize, DEFAULTS.batchSize, 1000);
  const maxInFlight = positiveInt("maxInFlight", opts.maxInFlight, DEFAULTS.maxInFlight, 1024);
  const bufferEvents = positiveInt("bufferEvents", opts.bufferEvents, DEFAULTS.bufferEvents);
  const lingerMs = opts.lingerMs ?? DEFAULTS.lingerMs;
  const sealTimeoutMs = opts.sealTimeoutMs ?? DEFAULTS.sealTimeoutMs;
  const initialDelayMs = opts.reconnect?.initialDelayMs ?? DEFAULTS.initialDelayMs;
  const maxDelayMs = opts.reconnect?.maxDelayMs ?? DEFAULTS.maxDelayMs;
  const giveUpAfterMs = opts.reconnect?.giveUpAfterMs ?? Number.POSITIVE_INFINITY;
  const crypto = opts.crypto ?? portableCrypto;
  const verifyBatch = opts.verifyBatch;
  const random = opts.random ?? Math.random;
  const keys: readonly Uint8Array[] =
    opts.sequencerKey instanceof Uint8Array ? [opts.sequencerKey] : [...opts.sequencerKey];
  if (keys.length === 0 || keys.some((k) => k.length !== 32)) {
    throw new AgentError("invalid_argument", `"sequencerKey" expected 32-byte Ed25519 public key(s)`, {
      field: "sequencerKey",
    });
  }
  const stream = {
    tenantId: opts.tenantId.toLowerCase(),
    storeId: opts.storeId.toLowerCase(),
    sourceAgentId: opts.sourceAgentId.toLowerCase(),
    agentKeyId: opts.agentKeyId,
  };
  const headers = authorization(opts.credential);
  const sequencer = createClient(SequencerService, opts.transport);
  const proofs = createClient(ProofService, opts.transport);
  const anchorWaits: AnchorWaits | undefined =
    opts.anchorUpgrades === undefined || opts.anchorUpgrades === false
      ? undefined
      : createAnchorWaits({
          transport: opts.transport,
          headers,
          keys,
          crypto,
          timeoutMs: opts.anchorTimeoutMs ?? DEFAULTS.anchorTimeoutMs,
          anchor: opts.anchorUpgrades === true ? {} : opts.anchorUpgrades,
        });
  const instance = Math.floor(random() * 2 ** 48)
    .toString(36)
    .padStart(10, "0");

  const queue: Pending[] = []; // appended, not yet in a batch
  const blocked: Pending[] = []; // appended while the buffer was full
  const inFlight: Batch[] = []; // cut into batches, sent (or to be resent), not answered; oldest first
  const verifying = new Set<Batch>(); // with verifyBatch: answered, signatures being verified; settled in order
  let settleTail: Promise<void> = Promise.resolve(); // with verifyBatch: the next answered batch settles after it
  const seals = new Map<string, SealWait>();
  const sealsOpen = new Set<Promise<unknown>>(); // close() waits for these
  let buffered = 0;
  let batchCounter = 0;
  let conn: Connection | undefined;
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let oldestQueuedAt = 0;
  let flushing = 0; // flush() calls waiting: cut batches without lingering
  let attempt = 0;
  let failingSince: number | undefined;
  let fatal: AgentError | undefined;
  let closing = false;
  let acknowledged = 0;
  let failed = 0;
  let reconnects = 0;
  let settledWaiters: (() => void)[] = [];
  let readyWaiters: (() => void)[] = [];
  let streamEnded: (() => void) | undefined;

  const now = (): number => Date.now();

  function settleOne(): void {
    buffered--;
    while (blocked.length > 0 && buffered < bufferEvents) {
      const p = blocked.shift() as Pending;
      enqueue(p);
    }
    if (buffered < bufferEvents && blocked.length === 0 && readyWaiters.length > 0) {
      const ws = readyWaiters;
      readyWaiters = [];
      for (const w of ws) w();
    }
    if (buffered === 0 && blocked.length === 0) {
      const ws = settledWaiters;
      settledWaiters = [];
      for (const w of ws) w();
    }
  }

  function fail(p: Pending, e: AgentError): void {
    failed++;
    p.reject(e);
    settleOne();
  }

  function enqueue(p: Pending): void {
    buffered++;
    if (queue.length === 0) oldestQueuedAt = now();
    queue.push(p);
    pump();
  }

  function admit(event: SignedEvent): Promise<AppendResult> {
    if (fatal !== undefined) return Promise.reject(fatal);
    if (closing) return Promise.reject(new AgentError("closed", "the agent is closed"));
    return new Promise<AppendResult>((resolve, reject) => {
      const p: Pending = { event, resolve, reject };
      if (buffered >= bufferEvents || blocked.length > 0) blocked.push(p);
      else enqueue(p);
    });
  }

  /** Cuts batches while there is room in flight and a batch is due (full, lingered, or flushing). */
  function pump(): void {
    if (fatal !== undefined) return;
    while (queue.length > 0 && inFlight.length < maxInFlight) {
      const due = queue.length >= batchSize || flushing > 0 || closing || now() - oldestQueuedAt >= lingerMs;
      if (!due) break;
      const events = queue.splice(0, batchSize);
      if (queue.length > 0) oldestQueuedAt = now();
      const request: AppendRequest = {
        $typeName: "ves.sequencer.v1.AppendRequest",
        batchId: `${instance}-${++batchCounter}`,
        events: events.map((p) => signedEventToProto(p.event)),
        receiptUpgrades: opts.receiptUpgrades === true || anchorWaits !== undefined,
        anchorUpgrades: anchorWaits !== undefined,
        subscription: undefined,
      };
      const batch: Batch = { request, events };
      inFlight.push(batch);
      if (conn !== undefined) conn.requests.push(request);
      else ensureConnected();
    }
    if (queue.length > 0 && inFlight.length < maxInFlight && lingerTimer === undefined) {
      lingerTimer = setTimeout(
        () => {
          lingerTimer = undefined;
          pump();
        },
        Math.max(0, oldestQueuedAt + lingerMs - now()),
      );
    }
  }

  function ensureConnected(): void {
    if (conn !== undefined || reconnectTimer !== undefined || fatal !== undefined) return;
    connect();
  }

  function connect(): void {
    const c: Connection = { requests: createPushQueue(), abort: new AbortController(), live: false };
    conn = c;
    for (const b of inFlight) c.requests.push(b.request); // resend every unanswered batch, unchanged, in order
    if (closing && queue.length === 0 && blocked.length === 0 && inFlight.length === 0) c.requests.end();
    opts.onConnection?.({ type: "connecting", attempt });
    void read(c);
  }

  async function read(c: Connection): Promise<void> {
    let error: ConnectError | undefined;
    try {
      for await (const res of sequencer.append(c.requests, { headers, signal: c.abort.signal })) {
        c.live = true;
        if (res.kind.case === "batchResult") onBatchResult(c, res.kind.value);
        else if (res.kind.case === "receiptUpgrade") onUpgrade(res.kind.value);
        else if (res.kind.case === "anchoredUpgrade") anchorWaits?.onUpgrade(res.kind.value);
      }
    } catch (err) {
      error = ConnectError.from(err);
    }
    if (conn !== c) return;
    conn = undefined;
    if (error === undefined && inFlight.length > 0) {
      error = new ConnectError("the server ended the stream with batches unanswered", Code.Unavailable);
    }
    if (error === undefined) {
      failingSince = undefined;
      if (seals.size > 0) fetchSeals();
      anchorWaits?.orphan();
      const done = streamEnded;
      streamEnded = undefined;
      done?.();
      if (queue.length > 0) pump();
      return;
    }
    onStreamError(error);
  }

  function onStreamError(error: ConnectError): void {
    if (!RETRYABLE.has(error.code)) {
      const reason =
        error.code === Code.Unauthenticated
          ? "unauthenticated"
          : error.code === Code.PermissionDenied
            ? "permission_denied"
            : "batch_refused";
      stop(
        new AgentError(
          reason,
          `the sequencer ended the Append stream: [${Code[error.code]}] ${error.rawMessage}`,
          {
            code: Code[error.code],
            cause: error,
          },
        ),
      );
      return;
    }
    failingSince ??= now();
    if (now() - failingSince >= giveUpAfterMs) {
      stop(
        new AgentError(
          "unavailable",
          `the sequencer stayed unreachable for ${giveUpAfterMs} ms: ${error.rawMessage}`,
          {
            code: Code[error.code],
            cause: error,
          },
        ),
      );
      return;
    }
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt, 30));
    const delay = Math.round(base / 2 + (random() * base) / 2); // "equal jitter"
    attempt++;
    reconnects++;
    opts.onConnection?.({ type: "disconnected", error, retryInMs: delay });
    if (seals.size > 0) fetchSeals(); // upgrades for events acknowledged on the lost stream will not come
    anchorWaits?.orphan();
    const work = inFlight.length > 0 || queue.length > 0 || blocked.length > 0 || closing;
    if (!work) return; // reconnect lazily, with the next batch
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (fatal === undefined) connect();
    }, delay);
  }

  /** Fails every waiting append and the agent itself. */
  function stop(e: AgentError): void {
    fatal = e;
    if (lingerTimer !== undefined) clearTimeout(lingerTimer);
    if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
    conn?.abort.abort();
    conn = undefined;
    const all = [...verifying, ...inFlight].flatMap((b) => b.events).concat(queue, blocked);
    verifying.clear();
    inFlight.length = 0;
    queue.length = 0;
    blocked.length = 0;
    for (const p of all) fail(p, e);
    for (const [id, w] of seals) {
      clearTimeout(w.timer);
      w.reject(e);
      seals.delete(id);
    }
    anchorWaits?.stop(e);
    const done = streamEnded;
    streamEnded = undefined;
    done?.();
  }

  function onBatchResult(c: Connection, r: BatchResult): void {
    const batch = inFlight[0];
    if (batch === undefined || batch.request.batchId !== r.batchId) {
      c.abort.abort(); // not the answer to the oldest batch: drop the stream and resend
      return;
    }
    inFlight.shift();
    attempt = 0;
    failingSince = undefined;
    if (verifyBatch === undefined) settleBatch(batch, r);
    else settleAfterVerifying(batch, r, verifyBatch);
    pump();
    if (closing && inFlight.length === 0 && queue.length === 0 && blocked.length === 0) c.requests.end();
  }

  function settleBatch(batch: Batch, r: BatchResult, signatureProblems?: (string | undefined)[]): void {
    if (r.error !== undefined) {
      for (const p of batch.events) {
        fail(
          p,
          new AgentError("batch_refused", `batch refused: [${r.error.code}] ${r.error.message}`, {
            eventId: p.event.eventId,
            code: r.error.code,
            field: r.error.field,
          }),
        );
      }
    } else if (r.results.length !== batch.events.length) {
      for (const p of batch.events) {
        fail(
          p,
          new AgentError(
            "bad_receipt",
            `the batch answer lists ${r.results.length} results for ${batch.events.length} events`,
            { eventId: p.event.eventId },
          ),
        );
      }
    } else if (signatureProblems === undefined) {
      for (const [i, p] of batch.events.entries()) settle(p, r.results[i] as EventResult);
    } else {
      for (const [i, p] of batch.events.entries()) {
        settle(p, r.results[i] as EventResult, () => signatureProblems[i]);
      }
    }
  }

  /**
   * With verifyBatch: checks the receipts' fields and hashes now, has their signatures verified (concurrently with
   * other batches'), and settles the batch once they are and every batch answered before it has settled.
   */
  function settleAfterVerifying(batch: Batch, r: BatchResult, verify: NonNullable<typeof verifyBatch>): void {
    const answered = r.error === undefined && r.results.length === batch.events.length;
    // Synchronous, like the checks of settle(): a malformed receipt throws here just as it does there.
    const prepared = answered ? prepareReceipts(batch.events, r.results) : undefined;
    const verified = prepared === undefined ? undefined : verifySignatures(prepared, verify);
    verifying.add(batch);
    settleTail = settleTail.then(async () => {
      let problems: (string | undefined)[] | undefined;
      let error: unknown;
      try {
        problems = await verified;
      } catch (err) {
        error = err;
      }
      if (!verifying.delete(batch)) return; // the agent stopped meanwhile: these appends have failed already
      if (error === undefined) {
        settleBatch(batch, r, problems);
        return;
      }
      for (const p of batch.events) {
        fail(
          p,
          new AgentError(
            "bad_receipt",
            `event ${p.event.eventId}: the receipt could not be verified (${(error as Error).message})`,
            { eventId: p.event.eventId, cause: error },
          ),
        );
      }
    });
  }

  /** The checks of verifyAgainstKeys before the signature, for each receipt settle() would verify. */
  function prepareReceipts(events: readonly Pending[], results: readonly EventResult[]): Prepared {
    const problems: (string | undefined)[] = new Array(events.length).fill(undefined);
    const checks: Prepared["checks"] = [];
    for (const [index, p] of events.entries()) {
      const res = results[index] as EventResult;
      if (res.outcome.case !== "receipt") continue;
      const receipt = res.outcome.value;
      if (foreignReceipt(p.event, res, receipt) !== undefined) continue;
      const fields = checkReceiptFields(crypto.sha256, receipt, p.event.signingHash);
      if (!fields.valid) {
        problems[index] = fields.reason;
        continue;
      }
      assertVerifyArguments(receipt.sequencerSignature, fields.receiptHash, keys[0] as Uint8Array);
      checks.push({ index, message: fields.receiptHash, signature: receipt.sequencerSignature });
    }
    return { problems, checks };
  }

  /** The prepared problems plus "bad_signature" for each signature that verifies under none of the pinned keys. */
  async function verifySignatures(
    prepared: Prepared,
    verify: NonNullable<typeof verifyBatch>,
  ): Promise<(string | undefined)[]> {
    let left = prepared.checks;
    for (const publicKey of keys) {
      if (left.length === 0) break;
      const checks = left.map((c) => ({ message: c.message, signature: c.signature, publicKey }));
      let answers: readonly boolean[] | undefined;
      try {
        answers = await verify(checks);
      } catch {
        answers = undefined;
      }
      if (answers?.length !== checks.length) {
        answers = checks.map((c) => crypto.ed25519.verify(c.signature, c.message, c.publicKey));
      }
      const verdicts = answers;
      left = left.filter((_, k) => verdicts[k] !== true);
    }
    const problems = [...prepared.problems];
    for (const c of left) problems[c.index] = "bad_signature";
    return problems;
  }

  /** Why the receipt is not for this event's stream and id, or undefined when it is. */
  function foreignReceipt(e: SignedEvent, res: EventResult, receipt: Receipt): string | undefined {
    return res.eventId !== e.eventId ||
      receipt.eventId !== e.eventId ||
      receipt.tenantId !== e.tenantId ||
      receipt.storeId !== e.storeId
      ? `a receipt for ${receipt.tenantId}/${receipt.storeId}/${receipt.eventId}`
      : undefined;
  }

  function settle(
    p: Pending,
    res: EventResult,
    signatureProblem: (receipt: Receipt) => string | undefined = (receipt) =>
      verifyAgainstKeys(receipt, p.event.signingHash),
  ): void {
    const e = p.event;
    if (res.outcome.case === "rejection") {
      const rej = res.outcome.value;
      fail(
        p,
        new AgentError("rejected", `event ${e.eventId} rejected (${rej.code}): ${rej.message}`, {
          eventId: e.eventId,
          rejection: rejectionName(rej.reason),
          code: rej.code,
          field: rej.field,
          expected: rej.expected,
          actual: rej.actual,
        }),
      );
      return;
    }
    const receipt = res.outcome.value;
    const problem =
      receipt === undefined ? "no receipt" : (foreignReceipt(e, res, receipt) ?? signatureProblem(receipt));
    if (problem !== undefined || receipt === undefined) {
      fail(
        p,
        new AgentError("bad_receipt", `event ${e.eventId}: the receipt does not verify (${problem})`, {
          eventId: e.eventId,
          code: problem,
        }),
      );
      return;
    }
    acknowledged++;
    p.resolve({
      event: e,
      receipt,
      replayed: res.replayed,
      ...upgradesOf(receipt),
    });
    settleOne();
  }

  /** The `sealed` and `anchored` promises of a verified receipt, as the options ask for them. */
  function upgradesOf(receipt: Receipt): Pick<AppendResult, "sealed" | "anchored"> {
    if (anchorWaits === undefined) {
      return { sealed: opts.receiptUpgrades ? awaitSeal(receipt) : undefined, anchored: undefined };
    }
    const sealed = awaitSeal(receipt);
    return { sealed, anchored: anchorWaits.wait(receipt, sealed) };
  }

  /** undefined when the receipt verifies against a pinned key, else the verdict's reason. */
  function verifyAgainstKeys(receipt: Receipt, signingHash: Uint8Array): string | undefined {
    let reason = "bad_signature";
    for (const key of keys) {
      const v = verifyReceipt(receipt, key, {
        expectedSigningHash: signingHash,
        sha256: crypto.sha256,
        ed25519: crypto.ed25519,
      });
      if (v.valid) return undefined;
      reason = v.reason;
    }
    return reason;
  }

  function awaitSeal(receipt: Receipt): Promise<SealedEvent> {
    const p = new Promise<SealedEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        seals.delete(receipt.eventId);
        reject(
          new AgentError(
            "unavailable",
            `event ${receipt.eventId} was not sealed within ${sealTimeoutMs} ms`,
            {
              eventId: receipt.eventId,
            },
          ),
        );
      }, sealTimeoutMs);
      seals.set(receipt.eventId, { receipt, resolve, reject, timer });
    });
    // A caller who ignores `sealed` must not see an unhandled rejection.
    const done: Promise<unknown> = p.then(
      () => sealsOpen.delete(done),
      () => sealsOpen.delete(done),
    );
    sealsOpen.add(done);
    return p;
  }

  function onUpgrade(u: ReceiptUpgrade): void {
    if (u.commitment === undefined) return;
    for (const proof of u.proofs) sealWith(proof, u.commitment);
  }

  function sealWith(proof: InclusionProof, checkpoint: Commitment): void {
    const w = seals.get(proof.eventId);
    if (w === undefined) return;
    let reason: string | undefined = "bad_signature";
    for (const key of keys) {
      const v = verifyReceipt(w.receipt, key, {
        upgrade: { proof, checkpoint },
        sha256: crypto.sha256,
        ed25519: crypto.ed25519,
      });
      reason = v.valid ? undefined : v.reason;
      if (v.valid) break;
    }
    seals.delete(proof.eventId);
    clearTimeout(w.timer);
    if (reason === undefined) w.resolve({ proof, checkpoint });
    else {
      w.reject(
        new AgentError(
          "bad_receipt",
          `event ${proof.eventId}: the inclusion proof does not verify (${reason})`,
          {
            eventId: proof.eventId,
            code: reason,
          },
        ),
      );
    }
  }

  /** Fetches the proofs of events whose upgrades the stream will no longer push (read permission needed). */
  function fetchSeals(): void {
    const waiting = [...seals.values()];
    void (async () => {
      for (const w of waiting) {
        while (seals.get(w.receipt.eventId) === w) {
          try {
            const res = await proofs.getInclusionProof(
              {
                tenantId: w.receipt.tenantId,
                storeId: w.receipt.storeId,
                selector: { case: "eventId", value: w.receipt.eventId },
              },
              { headers },
            );
            if (res.proof !== undefined && res.commitment !== undefined) sealWith(res.proof, res.commitment);
          } catch {
            // not sealed yet, or unreachable: try again shortly (the seal's own timeout bounds this)
          }
          if (seals.get(w.receipt.eventId) === w) await new Promise((r) => setTimeout(r, 250));
        }
      }
    })();
  }

  function settled(): Promise<void> {
    if (buffered === 0 && blocked.length === 0) return Promise.resolve();
    return new Promise((resolve) => settledWaiters.push(resolve));
  }

  return {
    append(event) {
      let signed: SignedEvent;
      try {
        signed = signEvent({ ...event, ...stream }, opts.signer, crypto);
      } catch (err) {
        return Promise.reject(
          new AgentError("invalid_argument", `cannot sign the event: ${(err as Error).message}`, {
            cause: err,
          }),
        );
      }
      return admit(signed);
    },
    appendSigned(event) {
      if (
        event.tenantId !== stream.tenantId ||
        event.storeId !== stream.storeId ||
        event.sourceAgentId !== stream.sourceAgentId
      ) {
        return Promise.reject(
          new AgentError(
            "invalid_argument",
            `event ${event.eventId} belongs to ${event.tenantId}/${event.storeId} agent ${event.sourceAgentId}, not this agent's stream`,
            { eventId: event.eventId, field: "tenantId/storeId/sourceAgentId" },
          ),
        );
      }
      return admit(event);
    },
    ready() {
      if (fatal !== undefined) return Promise.reject(fatal);
      if (buffered < bufferEvents && blocked.length === 0) return Promise.resolve();
      return new Promise((resolve) => readyWaiters.push(resolve));
    },
    async flush() {
      flushing++;
      try {
        pump();
        await settled();
      } finally {
        flushing--;
      }
    },
    async close() {
      if (closing) return;
      closing = true;
      pump();
      await settled();
      if (conn !== undefined) {
        const ended = new Promise<void>((resolve) => {
          streamEnded = resolve;
        });
        conn.requests.end();
        await ended;
      }
      if (lingerTimer !== undefined) clearTimeout(lingerTimer);
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
      await Promise.all(sealsOpen);
      await anchorWaits?.settled();
    },
    abort() {
      if (fatal === undefined) stop(new AgentError("closed", "the agent was aborted"));
    },
    stats() {
      return {
        buffered,
        waiting: blocked.length,
        inFlightBatches: inFlight.length,
        batches: batchCounter,
        acknowledged,
        failed,
        reconnects,
        connected: conn?.live === true,
      };
    },
  };
}
