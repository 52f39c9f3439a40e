// Receipt upgrades on the Append stream: once a client sets receipt_upgrades, every event it appends from that
// request on is watched until a commitment covers it; the server then pushes a ReceiptUpgrade (the signed
// checkpoint and the events' inclusion proofs) on the same stream, after the event's receipt. Wraps the Append
// stream rather than changing it: requests are tapped on the way in, responses merged on the way out.
// The anchored tier (AppendRequest.anchor_upgrades, when the server anchors): once a commitment that sealed such
// events has an anchor record of status final, an AnchoredUpgrade follows; pending ones are polled.
import { create } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  type AppendRequest,
  type AppendResponse,
  AppendResponseSchema,
} from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import type { AnchorReader } from "../app/anchorPorts.js";
import type { CommitmentWatch } from "../app/commitmentWatch.js";
import { inclusionProofsOf } from "../app/getInclusionProofs.js";
import type { ProofDeps } from "../app/ports.js";
import { hexToBytes } from "../crypto/bytes.js";
import type { Commitment } from "../domain/commitment.js";
import type { StreamKey } from "../domain/event.js";
import { streamKeyString } from "../domain/streamKey.js";
import { commitmentToProto, inclusionProofToProto } from "./proofConvert.js";

export interface ReceiptUpgradesOptions {
  readonly deps: ProofDeps;
  readonly watch: CommitmentWatch;
  readonly log: Logger;
  /** Aborted when the server starts shutting down: pending upgrades are then given up. */
  readonly shutdown: AbortSignal;
  /** Events of one Append stream awaiting their upgrade; past this the server stops reading the stream. */
  readonly maxPending: number;
  /** After the client half-closes, how long pending upgrades are waited for before the stream ends. */
  readonly drainTimeoutMs: number;
  /** After a failed proof lookup, wait this long before trying again. */
  readonly retryMs?: number;
  readonly onUpgrade?: (proofs: number) => void;
  /** The anchored tier; undefined when the server does not anchor (anchor_upgrades is then ignored). */
  readonly anchors?: AnchoredUpgradesOptions;
}

export interface AnchoredUpgradesOptions {
  readonly reader: Pick<AnchorReader, "chainId" | "contractAddress" | "confirmations" | "record">;
  /** How often the anchor records of commitments awaiting their anchored upgrade are read. */
  readonly pollMs: number;
  /** After a client that set anchor_upgrades half-closes, how long pending upgrades are waited for. */
  readonly drainTimeoutMs: number;
}

/** Anchor records read at once per poll round. */
const ANCHOR_LOOKUPS_AT_ONCE = 16;

interface PendingStream {
  readonly stream: StreamKey;
  /** sequence number → whether the event also gets its anchored upgrade, of receipts sent and not upgraded yet. */
  readonly events: Map<bigint, boolean>;
  unwatch: () => void;
  fetching: boolean;
  again: boolean;
  retry: NodeJS.Timeout | undefined;
}

/** A view of `requests` that calls `onRequest` for each one and can hold back reading while `wait` is pending. */
function tap<T>(
  requests: AsyncIterable<T>,
  beforeNext: () => Promise<void>,
  onRequest: (r: T) => void,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = requests[Symbol.asyncIterator]();
      return {
        async next() {
          await beforeNext();
          const r = await it.next();
          if (r.done !== true) onRequest(r.value);
          return r;
        },
        return(value?: unknown) {
          return it.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined });
        },
      } as AsyncIterator<T>;
    },
  };
}

/**
 * Runs `append` over `requests` and yields its responses, with ReceiptUpgrade responses merged in for the
 * events of every request read after the client opted in.
 */
export async function* withReceiptUpgrades(
  requests: AsyncIterable<AppendRequest>,
  signal: AbortSignal,
  append: (requests: AsyncIterable<AppendRequest>) => AsyncGenerator<AppendResponse>,
  opts: ReceiptUpgradesOptions,
): AsyncGenerator<AppendResponse> {
  const stop = AbortSignal.any([signal, opts.shutdown]);
  const retryMs = opts.retryMs ?? 1000;
  // Per request read, in order: which upgrades its events get (append answers each request once, in order).
  const optIns: ("none" | "sealed" | "anchored")[] = [];
  let optedIn = false;
  let anchorOptedIn = false;
  const anchors = opts.anchors;
  // Commitments whose anchored upgrade is due (by id), polled while any are pending.
  const anchorPending = new Map<string, Commitment>();
  let anchorTimer: NodeJS.Timeout | undefined;
  let anchorPolling = false;
  const pending = new Map<string, PendingStream>();
  let pendingCount = 0;
  const ready: AppendResponse[] = [];
  let wake: (() => void) | undefined;
  let room: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const freeRoom = (): void => {
    if (pendingCount + anchorPending.size < opts.maxPending) {
      room?.();
      room = undefined;
    }
  };
  const onAbort = (): void => {
    notify();
    room?.();
    room = undefined;
  };
  stop.addEventListener("abort", onAbort);

  const waitForRoom = async (): Promise<void> => {
    while (pendingCount + anchorPending.size >= opts.maxPending && !stop.aborted) {
      await new Promise<void>((r) => {
        room = r;
      });
    }
  };

  const pollAnchors = async (): Promise<void> => {
    anchorTimer = undefined;
    if (anchors === undefined || anchorPolling || stop.aborted) return;
    anchorPolling = true;
    try {
      const todo = [...anchorPending.values()];
      for (let i = 0; i < todo.length && !stop.aborted; i += ANCHOR_LOOKUPS_AT_ONCE) {
        const chunk = todo.slice(i, i + ANCHOR_LOOKUPS_AT_ONCE);
        const records = await Promise.all(chunk.map((c) => anchors.reader.record(c.commitmentId)));
        chunk.forEach((c, j) => {
          const r = records[j];
          if (r?.status !== "final" || r.blockNumber === undefined || r.blockHash === undefined) return;
          anchorPending.delete(c.commitmentId);
          ready.push(
            create(AppendResponseSchema, {
              kind: {
                case: "anchoredUpgrade",
                value: {
                  commitment: commitmentToProto(c),
                  chainId: BigInt(anchors.reader.chainId),
                  contractAddress: hexToBytes(anchors.reader.contractAddress.slice(2)),
                  txHash: hexToBytes(r.txHash.slice(2)),
                  blockNumber: r.blockNumber,
                  blockHash: hexToBytes(r.blockHash.slice(2)),
                  confirmations: anchors.reader.confirmations,
                },
              },
            }),
          );
        });
        notify();
        freeRoom();
      }
    } catch (err) {
      opts.log.warn({ err }, "anchored upgrade lookup failed; retrying");
    } finally {
      anchorPolling = false;
      scheduleAnchors();
    }
  };
  const scheduleAnchors = (): void => {
    if (anchors === undefined || anchorTimer !== undefined || anchorPolling) return;
    if (anchorPending.size === 0 || stop.aborted) return;
    anchorTimer = setTimeout(() => void pollAnchors(), anchors.pollMs);
  };

  const forget = (ps: PendingStream): void => {
    if (ps.events.size > 0 || ps.fetching) return;
    ps.unwatch();
    clearTimeout(ps.retry);
    pending.delete(streamKeyString(ps.stream));
  };

  const fetch = async (ps: PendingStream): Promise<void> => {
    if (ps.fetching) {
      ps.again = true;
      return;
    }
    const sealed = opts.watch.sealedEnd(ps.stream);
    const due = [...ps.events.keys()].filter((seq) => seq <= sealed);
    if (due.length === 0) return;
    ps.fetching = true;
    try {
      const groups = await inclusionProofsOf(opts.deps, ps.stream, due);
      for (const g of groups) {
        let anchored = false;
        for (const p of g.proofs) {
          const wantsAnchor = ps.events.get(p.sequenceNumber);
          if (wantsAnchor === undefined) continue;
          anchored ||= wantsAnchor;
          ps.events.delete(p.sequenceNumber);
          pendingCount--;
        }
        if (anchored && anchors !== undefined) anchorPending.set(g.commitment.commitmentId, g.commitment);
        ready.push(
          create(AppendResponseSchema, {
            kind: {
              case: "receiptUpgrade",
              value: {
                commitment: commitmentToProto(g.commitment),
                proofs: g.proofs.map(inclusionProofToProto),
              },
            },
          }),
        );
        opts.onUpgrade?.(g.proofs.length);
      }
      if (groups.length > 0) notify();
      scheduleAnchors();
      freeRoom();
    } catch (err) {
      opts.log.warn({ err, stream: ps.stream }, "receipt upgrade lookup failed; retrying");
      clearTimeout(ps.retry);
      ps.retry = setTimeout(() => void fetch(ps), retryMs);
    } finally {
      ps.fetching = false;
      if (ps.again) {
        ps.again = false;
        void fetch(ps);
      } else {
        forget(ps);
        if (pending.size === 0) notify();
      }
    }
  };

  const track = (res: AppendResponse, anchored: boolean): void => {
    if (res.kind.case !== "batchResult" || res.kind.value.error !== undefined) return;
    const b = res.kind.value;
    const stream = { tenantId: b.tenantId, storeId: b.storeId };
    const key = streamKeyString(stream);
    let ps = pending.get(key);
    for (const r of b.results) {
      if (r.outcome.case !== "receipt") continue;
      if (ps === undefined) {
        const created: PendingStream = {
          stream,
          events: new Map(),
          unwatch: () => {},
          fetching: false,
          again: false,
          retry: undefined,
        };
        created.unwatch = opts.watch.watch(stream, () => void fetch(created));
        pending.set(key, created);
        ps = created;
      }
      const seq = r.outcome.value.sequenceNumber;
      const before = ps.events.get(seq);
      if (before === undefined) pendingCount++;
      ps.events.set(seq, anchored || before === true);
    }
    // Replays (and fast commitments) may already be sealed.
    if (ps !== undefined) void fetch(ps);
  };

  const tapped = tap(requests, waitForRoom, (r) => {
    anchorOptedIn ||= r.anchorUpgrades && anchors !== undefined;
    optedIn ||= r.receiptUpgrades || r.anchorUpgrades;
    optIns.push(anchorOptedIn ? "anchored" : optedIn ? "sealed" : "none");
  });
  const responses = append(tapped)[Symbol.asyncIterator]();
  let next: IteratorResult<AppendResponse> | undefined;
  let failure: { err: unknown } | undefined;
  let appendDone = false;
  const pull = (): void => {
    responses.next().then(
      (r) => {
        next = r;
        notify();
      },
      (err: unknown) => {
        failure = { err };
        notify();
      },
    );
  };
  pull();

  let deadline: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const upgrade = ready.shift();
      if (upgrade !== undefined) {
        yield upgrade;
        continue;
      }
      if (failure !== undefined) throw failure.err;
      if (next !== undefined) {
        const r = next;
        next = undefined;
        if (r.done === true) {
          appendDone = true;
        } else {
          const upgrades = optIns.shift() ?? "none";
          yield r.value;
          if (upgrades !== "none") track(r.value, upgrades === "anchored");
          pull();
        }
        continue;
      }
      if (appendDone) {
        // Anchored upgrades are waited for only when the client asked for them (anchor_upgrades), up to
        // their own bound; otherwise those still pending are given up with the sealed ones.
        const waitAnchors = anchorOptedIn && anchors !== undefined;
        if (stop.aborted || (pendingCount === 0 && (!waitAnchors || anchorPending.size === 0))) break;
        deadline ??=
          Date.now() +
          (waitAnchors ? Math.max(opts.drainTimeoutMs, anchors.drainTimeoutMs) : opts.drainTimeoutMs);
        const left = deadline - Date.now();
        if (left <= 0) {
          opts.log.debug(
            { pending: pendingCount, anchorPending: anchorPending.size },
            "append stream ended with receipt upgrades still pending",
          );
          break;
        }
        clearTimeout(timer);
        timer = setTimeout(notify, left);
      }
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  } finally {
    stop.removeEventListener("abort", onAbort);
    clearTimeout(timer);
    clearTimeout(anchorTimer);
    anchorPending.clear();
    for (const ps of pending.values()) {
      ps.unwatch();
      clearTimeout(ps.retry);
    }
    pending.clear();
    if (!appendDone) void responses.return?.(undefined)?.catch(() => {});
  }
}
