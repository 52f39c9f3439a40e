// Ports of the anchoring worker (ves-protocol.md §7, §16.11): the anchor chain, the anchor records, leadership.
import type {
  AnchorInput,
  AnchorRecord,
  Hex32,
  OnChainCommitment,
  SentTx,
  TxAttempt,
  TxFees,
  TxObservation,
} from "../domain/anchor.js";
import type { Commitment } from "../domain/commitment.js";
import type { StreamKey } from "../domain/event.js";
import type { ProofDeps } from "./ports.js";

/** The anchor contract on its chain. Failures are AnchorFailure (classified). */
export interface AnchorChain {
  readonly chainId: number;
  /** The contract's address, lowercase 0x-hex. */
  readonly contractAddress: Hex32;
  /** The stream's last anchored end on chain (0: none). */
  latestEnd(stream: StreamKey): Promise<bigint>;
  /** The stream's anchored commitment ending at `sequenceEnd`, if any. */
  commitmentAt(stream: StreamKey, sequenceEnd: bigint): Promise<OnChainCommitment | undefined>;
  /** The transaction (and its block hash) that anchored the stream's commitment ending at sequenceEnd. */
  findAnchorTx(
    stream: StreamKey,
    sequenceEnd: bigint,
    blockNumber: bigint,
  ): Promise<{ txHash: Hex32; blockHash: Hex32 } | undefined>;
  observe(txHash: Hex32): Promise<TxObservation>;
  /** Simulates anchorMany(items) and estimates its gas; throws AnchorFailure("refused") for a typed revert. */
  estimate(items: readonly AnchorInput[]): Promise<bigint>;
  /** The network's current EIP-1559 fee estimate. */
  fees(): Promise<TxFees>;
  /**
   * Signs anchorMany(items) with these fees (the next nonce), calls `record(tx)` (which must make it durable),
   * then broadcasts. A crash in between leaves a recorded hash the chain never saw: it vanishes and is anchored
   * again.
   */
  send(
    items: readonly AnchorInput[],
    gas: bigint,
    fees: TxFees,
    record: (tx: SentTx) => Promise<void>,
  ): Promise<Hex32>;
  /** Signs `previous` again (same nonce, calldata and gas limit) with higher fees, records it, broadcasts it. */
  replace(previous: SentTx, fees: TxFees, record: (tx: SentTx) => Promise<void>): Promise<Hex32>;
}

export interface AnchorCandidate {
  readonly stream: StreamKey;
  /** The end of the stream's last commitment with an anchor record (0: none). */
  readonly anchoredEnd: bigint;
}

export interface StreamFailure {
  readonly reason: string;
  readonly message: string;
  readonly failures: number;
  readonly failedAt: Date;
  readonly retryAt: Date;
}

/** Anchor records for one (chain, contract). */
export interface AnchorStore {
  /** Records with status submitted or included. */
  pending(limit: number): Promise<AnchorRecord[]>;
  /** Streams with sealed commitments past their anchored end, none submitted-but-unmined, not waiting a retry. */
  candidates(now: Date, limit: number): Promise<AnchorCandidate[]>;
  /** The stream's commitments after `afterEnd`, in chain order. */
  unanchored(stream: StreamKey, afterEnd: bigint, limit: number): Promise<Commitment[]>;
  /**
   * Inserts submitted records for `commitments` and the transaction's first version (one database transaction)
   * and clears their streams' failures.
   */
  recordSubmitted(commitments: readonly Commitment[], tx: SentTx, at: Date): Promise<void>;
  /** Every recorded version of the transaction `txHash` is a version of, oldest first ([] if none: sent before). */
  attempts(txHash: Hex32): Promise<TxAttempt[]>;
  /** Records a replacement of `previousHash` and points its unmined records at it (one database transaction). */
  recordReplacement(previousHash: Hex32, tx: SentTx, at: Date): Promise<void>;
  /** Points the unfinal records of `fromHash` at `minedHash`, the version of the same transaction that was mined. */
  adoptTx(fromHash: Hex32, minedHash: Hex32): Promise<void>;
  /** Records a commitment found already anchored on chain (status included or final). */
  recordOnChain(
    commitment: Commitment,
    tx: { txHash: Hex32; blockNumber: bigint; blockHash: Hex32 },
    status: "included" | "final",
    at: Date,
  ): Promise<void>;
  /** Moves the records of a transaction to included or final. */
  markTx(
    txHash: Hex32,
    status: "included" | "final",
    blockNumber: bigint,
    blockHash: Hex32,
    at: Date,
  ): Promise<void>;
  /**
   * Deletes the unfinal records of a transaction (reorged, vanished or reverted) and every recorded version of
   * it, and rewinds their streams.
   */
  forgetTx(txHash: Hex32): Promise<number>;
  recordFailure(stream: StreamKey, failure: Omit<StreamFailure, "failures">): Promise<number>;
  failures(stream: StreamKey): Promise<number>;
}

/** One leader among the instances (a PostgreSQL advisory lock on a dedicated connection). */
export interface LeaderLock {
  /** Takes the lock if free; true while this instance holds it (rechecked on every call). */
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

/** What the anchor RPCs read: the records, the target and the chain. */
export interface AnchorReader {
  readonly chainId: number;
  readonly contractAddress: Hex32;
  readonly confirmations: number;
  record(commitmentId: string): Promise<AnchorRecord | undefined>;
  streamFailure(stream: StreamKey): Promise<StreamFailure | undefined>;
  /** The chain's latest block; undefined when the chain does not answer. */
  head(): Promise<bigint | undefined>;
  /** The contract's record of the stream's commitment ending at sequenceEnd (AnchorFailure if unreachable). */
  commitmentAt(stream: StreamKey, sequenceEnd: bigint): Promise<OnChainCommitment | undefined>;
}

export interface AnchorReadDeps {
  readonly proof: ProofDeps;
  /** Undefined: this server does not anchor. */
  readonly anchors: AnchorReader | undefined;
}
