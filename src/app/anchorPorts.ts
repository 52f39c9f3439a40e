// Ports of the anchoring worker (ves-protocol.md §7, §16.11): the anchor chain, the anchor records, leadership.
import type { AnchorInput, AnchorRecord, Hex32, OnChainCommitment, TxObservation } from "../domain/anchor.js";
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
  /**
   * Signs anchorMany(items), calls `record(txHash)` (which must make the hash durable), then broadcasts.
   * A crash in between leaves a recorded hash the chain never saw: it vanishes and is anchored again.
   */
  send(items: readonly AnchorInput[], gas: bigint, record: (txHash: Hex32) => Promise<void>): Promise<Hex32>;
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
  /** Inserts submitted records for `commitments` (one transaction) and clears their streams' failures. */
  recordSubmitted(commitments: readonly Commitment[], txHash: Hex32, at: Date): Promise<void>;
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
  /** Deletes the unfinal records of a transaction (reorged, vanished or reverted) and rewinds their streams. */
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
