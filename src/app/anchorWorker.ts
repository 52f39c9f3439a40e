// The anchoring worker (ves-protocol.md §7, §16.11): one leader per deployment anchors each stream's sealed
// commitments in chain order, several per anchorMany transaction up to a gas bound; it reads the contract's state
// before sending (what the chain already holds is recorded, never re-sent), follows every transaction to
// finality by block depth, and anchors again what a reorg undid. A transaction still pending after replaceAfterMs
// is replaced (same nonce and calldata, fees bumped by the replacement minimum, at most maxFeePerGas); every
// version is recorded before it is broadcast, and whichever is mined is the one followed. Failures are classified: retryable ones back off
// with jitter, the others (a refusal, no funds) wait at a slow pace, per stream, without blocking other streams.
import {
  AnchorFailure,
  type AnchorInput,
  anchorRetryDelayMs,
  bumpFees,
  type Hex32,
  initialFees,
  judgeAnchorTx,
  type OnChainCommitment,
  planStreamAnchors,
  type TxAttempt,
  type TxFees,
  type TxObservation,
  type TxVerdict,
  toAnchorInput,
  uuidToBytes32,
} from "../domain/anchor.js";
import type { Commitment } from "../domain/commitment.js";
import type { StreamKey } from "../domain/event.js";
import { streamKeyString } from "../domain/streamKey.js";
import type { AnchorChain, AnchorStore, LeaderLock } from "./anchorPorts.js";
import type { Clock } from "./ports.js";

export interface AnchorWorkerOptions {
  /** A transaction is final when its block and confirmations - 1 more are on the chain. */
  readonly confirmations: number;
  /** Pause between rounds that look for new commitments to anchor. */
  readonly cadenceMs: number;
  /** While transactions are pending, they are followed this often (default: cadenceMs). */
  readonly trackMs?: number;
  /** Commitments per anchorMany transaction at most. */
  readonly batchMax: number;
  /** Gas of one anchoring transaction at most (the batch is cut to fit). */
  readonly maxGas: bigint;
  /** How often a stand-by instance tries to become the leader. */
  readonly leaderPollMs: number;
  /** A submitted transaction the node no longer knows counts as gone after this long. */
  readonly vanishAfterMs: number;
  /** A submitted transaction not mined this long after its last version was sent is replaced (default 30 s). */
  readonly replaceAfterMs?: number;
  /** The max fee per gas (wei) never exceeded, first version or replacement (default 500 gwei). */
  readonly maxFeePerGas?: bigint;
  readonly retry: { readonly baseMs: number; readonly maxMs: number; readonly slowMs: number };
  readonly candidateLimit?: number;
  readonly pendingLimit?: number;
  readonly onEvent?: (e: AnchorWorkerEvent) => void;
  /** Test-only fault injection: called right after a transaction is broadcast. */
  readonly afterSend?: (txHash: Hex32) => void;
}

export type AnchorWorkerEvent =
  | { readonly kind: "leader"; readonly leader: boolean }
  | {
      readonly kind: "submitted";
      readonly txHash: Hex32;
      readonly commitments: number;
      readonly gas: bigint;
      readonly fees: TxFees;
    }
  | {
      readonly kind: "replaced";
      readonly previousHash: Hex32;
      readonly txHash: Hex32;
      readonly nonce: bigint;
      readonly previousFees: TxFees;
      readonly fees: TxFees;
    }
  /** The previous version of a transaction was mined instead of the latest: the records follow it. */
  | { readonly kind: "earlier_version_mined"; readonly latestHash: Hex32; readonly txHash: Hex32 }
  /** Replacing would pass maxFeePerGas: the transaction waits at its last fees (reported once per transaction). */
  | {
      readonly kind: "fee_capped";
      readonly txHash: Hex32;
      readonly nonce: bigint;
      readonly fees: TxFees;
      readonly needed: bigint;
      readonly maxFeePerGas: bigint;
    }
  /** How many pending transactions are stuck at the max fee (sent when it changes). */
  | { readonly kind: "stuck_at_max_fee"; readonly transactions: number }
  | { readonly kind: "replace_failed"; readonly txHash: Hex32; readonly failure: AnchorFailure }
  | {
      readonly kind: "included" | "final";
      readonly txHash: Hex32;
      readonly blockNumber: bigint;
      readonly depth: bigint;
      readonly commitments: readonly Pick<Commitment, "commitmentId" | "committedAt">[] | undefined;
    }
  | { readonly kind: "reorged" | "vanished" | "reverted"; readonly txHash: Hex32; readonly forgotten: number }
  | {
      readonly kind: "found_on_chain";
      readonly stream: StreamKey;
      readonly sequenceEnd: bigint;
      readonly txHash: Hex32;
    }
  | {
      readonly kind: "failure";
      readonly streams: readonly StreamKey[];
      readonly failure: AnchorFailure;
      readonly retryInMs: number;
    }
  | { readonly kind: "error"; readonly err: unknown };

export interface AnchorWorkerDeps {
  readonly chain: AnchorChain;
  readonly store: AnchorStore;
  readonly lock: LeaderLock;
  readonly clock: Clock;
  readonly random: () => number;
}

export interface AnchorWorker {
  /** Whether this instance leads (holds the lock) as of its last check. */
  isLeader(): boolean;
  /** Runs one round now (tests); resolves when it is done. */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

interface BatchItem {
  readonly commitment: Commitment;
  readonly input: AnchorInput;
}

export function startAnchorWorker(deps: AnchorWorkerDeps, opts: AnchorWorkerOptions): AnchorWorker {
  const { chain, store, lock, clock } = deps;
  const emit = (e: AnchorWorkerEvent): void => opts.onEvent?.(e);
  let leader = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let running: Promise<void> = Promise.resolve();
  let lastPlan = Number.NEGATIVE_INFINITY;
  let pendingTxs = 0;
  const trackMs = Math.min(opts.trackMs ?? opts.cadenceMs, opts.cadenceMs);
  const replaceAfterMs = opts.replaceAfterMs ?? 30_000;
  const maxFeePerGas = opts.maxFeePerGas ?? 500_000_000_000n;
  /** Groups (first hashes) reported stuck at the max fee, and their count as last reported. */
  let capped = new Set<Hex32>();
  let stuckReported = 0;

  async function fail(streams: readonly StreamKey[], failure: AnchorFailure): Promise<void> {
    const now = clock.now();
    let retryInMs = 0;
    for (const s of streams) {
      const failures = (await store.failures(s)) + 1;
      retryInMs = anchorRetryDelayMs(failure.kind, failures, deps.random(), opts.retry);
      await store.recordFailure(s, {
        reason: failure.reason,
        message: failure.message,
        failedAt: now,
        retryAt: new Date(now.getTime() + retryInMs),
      });
    }
    emit({ kind: "failure", streams, failure, retryInMs });
  }

  const asFailure = (err: unknown): AnchorFailure =>
    err instanceof AnchorFailure
      ? err
      : new AnchorFailure("failed", "error", String((err as Error)?.message ?? err), { cause: err });

  /** Follows recorded transactions: included, final, or undone (and then anchored again). */
  async function track(): Promise<void> {
    const pending = await store.pending(opts.pendingLimit ?? 1000);
    const byTx = new Map<Hex32, typeof pending>();
    for (const r of pending) byTx.set(r.txHash, [...(byTx.get(r.txHash) ?? []), r]);
    pendingTxs = byTx.size;
    const stuck = new Set<Hex32>();
    for (const [txHash, records] of byTx) {
      const first = records[0];
      if (first === undefined) continue;
      const submitted = records.some((r) => r.status === "submitted") ? "submitted" : "included";
      // Every version of a submitted transaction may be the one mined: look at each, the latest first.
      const attempts = submitted === "submitted" ? await store.attempts(txHash) : [];
      const versions = attempts.length > 0 ? attempts.map((a) => a.txHash).reverse() : [txHash];
      let minedHash = txHash;
      let seen: TxObservation | undefined;
      let known = false;
      for (const h of versions) {
        const o = await chain.observe(h);
        known ||= o.known;
        if (o.receipt !== undefined) {
          minedHash = h;
          seen = o;
          break;
        }
        seen = o;
      }
      if (seen === undefined) continue;
      if (seen.receipt === undefined) seen = { ...seen, known };
      const last = attempts.at(-1);
      const verdict: TxVerdict = judgeAnchorTx(
        { status: submitted, submittedAt: last?.sentAt ?? first.submittedAt },
        seen,
        opts.confirmations,
        clock.now(),
        opts.vanishAfterMs,
      );
      switch (verdict.kind) {
        case "pending":
          if (
            last !== undefined &&
            known &&
            clock.now().getTime() - last.sentAt.getTime() >= replaceAfterMs &&
            !stopped
          ) {
            if (await replace(txHash, last)) stuck.add(last.firstHash);
          }
          break;
        case "included":
        case "final":
          if (minedHash !== txHash) {
            await store.adoptTx(txHash, minedHash);
            emit({ kind: "earlier_version_mined", latestHash: txHash, txHash: minedHash });
          }
          if (
            verdict.kind === "final" ||
            minedHash !== txHash ||
            records.some((r) => r.status === "submitted" || r.blockHash !== verdict.blockHash)
          ) {
            await store.markTx(minedHash, verdict.kind, verdict.blockNumber, verdict.blockHash, clock.now());
            emit({
              kind: verdict.kind,
              txHash: minedHash,
              blockNumber: verdict.blockNumber,
              depth: verdict.depth,
              commitments: undefined,
            });
          }
          break;
        default: {
          const forgotten = await store.forgetTx(txHash);
          emit({ kind: verdict.kind, txHash: minedHash, forgotten });
        }
      }
    }
    capped = new Set([...capped].filter((h) => stuck.has(h)));
    if (stuck.size !== stuckReported) {
      stuckReported = stuck.size;
      emit({ kind: "stuck_at_max_fee", transactions: stuck.size });
    }
  }

  /**
   * Replaces the pending transaction whose latest version is `last` (records at `current`) with higher fees.
   * Returns true when it cannot, because the replacement minimum would pass the max fee.
   */
  async function replace(current: Hex32, last: TxAttempt): Promise<boolean> {
    try {
      const bump = bumpFees(last, await chain.fees(), maxFeePerGas);
      if (bump.kind === "capped") {
        if (!capped.has(last.firstHash)) {
          capped.add(last.firstHash);
          emit({
            kind: "fee_capped",
            txHash: current,
            nonce: last.nonce,
            fees: { maxFeePerGas: last.maxFeePerGas, maxPriorityFeePerGas: last.maxPriorityFeePerGas },
            needed: bump.needed,
            maxFeePerGas,
          });
        }
        return true;
      }
      const fees = { maxFeePerGas: bump.maxFeePerGas, maxPriorityFeePerGas: bump.maxPriorityFeePerGas };
      const txHash = await chain.replace(last, fees, (t) => store.recordReplacement(current, t, clock.now()));
      emit({
        kind: "replaced",
        previousHash: current,
        txHash,
        nonce: last.nonce,
        previousFees: { maxFeePerGas: last.maxFeePerGas, maxPriorityFeePerGas: last.maxPriorityFeePerGas },
        fees,
      });
    } catch (err) {
      // Recorded but refused (the nonce was mined meanwhile, a node's higher minimum) or a crash-like loss: the
      // next rounds look at every version again, and bump from the latest recorded one.
      emit({ kind: "replace_failed", txHash: current, failure: asFailure(err) });
    }
    return false;
  }

  /** Reads the contract for one stream; records what it holds; returns what to send. */
  async function planStream(stream: StreamKey, anchoredEnd: bigint, room: number): Promise<BatchItem[]> {
    const commitments = await store.unanchored(stream, anchoredEnd, Math.max(1, room));
    if (commitments.length === 0) return [];
    const chainEnd = await chain.latestEnd(stream);
    const held = new Map<bigint, OnChainCommitment>();
    for (const c of commitments) {
      if (c.sequenceEnd > chainEnd) break;
      const a = await chain.commitmentAt(stream, c.sequenceEnd);
      if (a !== undefined) held.set(c.sequenceEnd, a);
    }
    const plan = planStreamAnchors(commitments, chainEnd, held);
    if (plan.kind === "conflict") throw new AnchorFailure("failed", "chain_conflict", plan.message);
    for (const { commitment, anchored } of plan.onChain) {
      const tx = await chain.findAnchorTx(stream, commitment.sequenceEnd, anchored.blockNumber);
      if (tx === undefined) {
        throw new AnchorFailure(
          "retryable",
          "anchor_tx_not_found",
          `stream ${stream.tenantId}/${stream.storeId}: commitment ending at ${commitment.sequenceEnd} is on chain in block ${anchored.blockNumber}, but its transaction was not found in that block's logs`,
        );
      }
      // Recorded as included: the next round judges its depth from the receipt like any other.
      await store.recordOnChain(
        commitment,
        { ...tx, blockNumber: anchored.blockNumber },
        "included",
        clock.now(),
      );
      emit({ kind: "found_on_chain", stream, sequenceEnd: commitment.sequenceEnd, txHash: tx.txHash });
    }
    return plan.toSend.map((c) => ({ commitment: c, input: toAnchorInput(c) }));
  }

  const sameStream = (a: StreamKey, b: { tenantId: Hex32; storeId: Hex32 }): boolean =>
    uuidToBytes32(a.tenantId) === b.tenantId.toLowerCase() &&
    uuidToBytes32(a.storeId) === b.storeId.toLowerCase();

  function streamsOf(items: readonly BatchItem[]): StreamKey[] {
    const seen = new Map<string, StreamKey>();
    for (const i of items)
      seen.set(streamKeyString(i.commitment), {
        tenantId: i.commitment.tenantId,
        storeId: i.commitment.storeId,
      });
    return [...seen.values()];
  }

  /** Simulates, fits the gas bound, signs, records, broadcasts. */
  async function submit(initial: BatchItem[]): Promise<void> {
    let batch = initial;
    let gas = 0n;
    for (let attempt = 0; batch.length > 0; attempt++) {
      try {
        gas = await chain.estimate(batch.map((i) => i.input));
      } catch (err) {
        const f = asFailure(err);
        const refused = f.stream;
        if (f.kind === "refused" && refused !== undefined && attempt < initial.length) {
          // One stream's refusal must not hold up the others: set it aside and try the rest.
          const bad = batch.filter((i) => sameStream(i.commitment, refused));
          if (bad.length > 0) {
            await fail(streamsOf(bad), f);
            batch = batch.filter((i) => !sameStream(i.commitment, refused));
            continue;
          }
        }
        await fail(streamsOf(batch), f);
        return;
      }
      if (gas <= opts.maxGas || batch.length === 1) break;
      // Cut to fit (a prefix keeps each stream's commitments in chain order), then estimate again.
      const keep = Math.max(1, Math.floor((batch.length * Number(opts.maxGas)) / Number(gas)));
      batch = batch.slice(0, Math.min(keep, batch.length - 1));
    }
    if (batch.length === 0) return;
    const commitments = batch.map((i) => i.commitment);
    let recorded: Hex32 | undefined;
    try {
      const fees = initialFees(await chain.fees(), maxFeePerGas);
      const txHash = await chain.send(
        batch.map((i) => i.input),
        gas,
        fees,
        async (t) => {
          await store.recordSubmitted(commitments, t, clock.now());
          recorded = t.txHash;
        },
      );
      opts.afterSend?.(txHash);
      emit({ kind: "submitted", txHash, commitments: batch.length, gas, fees });
      pendingTxs++;
    } catch (err) {
      const f = asFailure(err);
      // The node refused the transaction outright (no funds, a revert): it exists nowhere, so forget it now.
      // After a retryable failure (a timeout) it may have arrived; the next rounds see it mined or vanish.
      if (recorded !== undefined && f.kind !== "retryable") await store.forgetTx(recorded);
      await fail(streamsOf(batch), f);
    }
  }

  /** One round: follow pending transactions; every cadenceMs (or when forced) also plan and send. */
  async function round(force: boolean): Promise<void> {
    const holds = await lock.acquire();
    if (holds !== leader) {
      leader = holds;
      emit({ kind: "leader", leader });
    }
    if (!leader) return;
    await track();
    if (!force && clock.now().getTime() - lastPlan < opts.cadenceMs) return;
    lastPlan = clock.now().getTime();
    const batch: BatchItem[] = [];
    for (const cand of await store.candidates(clock.now(), opts.candidateLimit ?? 1000)) {
      if (batch.length >= opts.batchMax || stopped) break;
      try {
        batch.push(...(await planStream(cand.stream, cand.anchoredEnd, opts.batchMax - batch.length)));
      } catch (err) {
        await fail([cand.stream], asFailure(err));
      }
    }
    if (batch.length > 0 && !stopped) await submit(batch);
  }

  const loop = (async () => {
    while (!stopped) {
      const once = round(false).catch((err: unknown) => emit({ kind: "error", err }));
      running = once;
      await once;
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, !leader ? opts.leaderPollMs : pendingTxs > 0 ? trackMs : opts.cadenceMs);
      });
      wake = undefined;
    }
  })();

  return {
    isLeader: () => leader,
    async runOnce() {
      await running;
      const once = round(true);
      running = once.catch(() => {});
      await once;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
      await lock.release();
    },
  };
}
