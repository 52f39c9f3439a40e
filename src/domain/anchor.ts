// Anchoring rules (ves-protocol.md §7, §16.11): how a commitment is written for the anchor contract
// (contracts/VesAnchor.sol) and the pure decisions of the anchoring worker: what to anchor next, when a
// transaction is final, what a reorg undoes, which failures are retried soon.
import { bytesToHex, uuidToBytes } from "../crypto/bytes.js";
import type { Commitment } from "./commitment.js";

export type Hex32 = `0x${string}`;

/** A commitment as the contract's CommitmentInput takes it. */
export interface AnchorInput {
  readonly tenantId: Hex32;
  readonly storeId: Hex32;
  readonly sequenceStart: bigint;
  readonly sequenceEnd: bigint;
  readonly leafCount: number;
  readonly merkleRoot: Hex32;
  readonly prevStateRoot: Hex32;
  readonly newStateRoot: Hex32;
}

/** UUID → bytes32 as upstream does it: the 16 UUID bytes, then 16 zero bytes. */
export function uuidToBytes32(uuid: string): Hex32 {
  return `0x${bytesToHex(uuidToBytes(uuid))}${"0".repeat(32)}`;
}

export function hex32(b: Uint8Array): Hex32 {
  return `0x${bytesToHex(b)}`;
}

/** The fields of a commitment that an anchor carries and the contract checks. */
export type AnchoredFields = Pick<
  Commitment,
  | "tenantId"
  | "storeId"
  | "sequenceStart"
  | "sequenceEnd"
  | "leafCount"
  | "merkleRoot"
  | "prevStateRoot"
  | "newStateRoot"
>;

export function toAnchorInput(c: AnchoredFields): AnchorInput {
  return {
    tenantId: uuidToBytes32(c.tenantId),
    storeId: uuidToBytes32(c.storeId),
    sequenceStart: c.sequenceStart,
    sequenceEnd: c.sequenceEnd,
    leafCount: c.leafCount,
    merkleRoot: hex32(c.merkleRoot),
    prevStateRoot: hex32(c.prevStateRoot),
    newStateRoot: hex32(c.newStateRoot),
  };
}

export type AnchorStatus = "submitted" | "included" | "final";

/** A commitment's anchoring transaction as recorded. */
export interface AnchorRecord {
  readonly commitmentId: string;
  readonly tenantId: string;
  readonly storeId: string;
  readonly sequenceEnd: bigint;
  readonly status: AnchorStatus;
  readonly txHash: Hex32;
  readonly blockNumber: bigint | undefined;
  readonly blockHash: Hex32 | undefined;
  readonly submittedAt: Date;
}

/** What the chain says about one transaction, read by the worker. */
export interface TxObservation {
  /** Undefined: no receipt (pending, dropped, or reorged out). */
  readonly receipt:
    | { readonly status: "success" | "reverted"; readonly blockNumber: bigint; readonly blockHash: Hex32 }
    | undefined;
  /** The canonical block hash at the receipt's block number (undefined when there is no such block). */
  readonly canonicalHash: Hex32 | undefined;
  /** The node still knows the transaction (in its pool or a block). */
  readonly known: boolean;
  /** The chain's latest block number. */
  readonly head: bigint;
}

export type TxVerdict =
  | { readonly kind: "pending" }
  | {
      readonly kind: "included";
      readonly blockNumber: bigint;
      readonly blockHash: Hex32;
      readonly depth: bigint;
    }
  | {
      readonly kind: "final";
      readonly blockNumber: bigint;
      readonly blockHash: Hex32;
      readonly depth: bigint;
    }
  /** Its block left the canonical chain, or an included transaction lost its receipt: anchor again. */
  | { readonly kind: "reorged" }
  /** Never mined and the node forgot it: anchor again. */
  | { readonly kind: "vanished" }
  | { readonly kind: "reverted"; readonly blockNumber: bigint };

/**
 * Where a recorded anchoring transaction stands. Finality is block depth (the receipt's block and
 * `confirmations - 1` blocks on top of it), never wall-clock time. A submitted transaction that the node no
 * longer knows is given `vanishAfterMs` from its submission before it counts as gone.
 */
export function judgeAnchorTx(
  record: Pick<AnchorRecord, "status" | "submittedAt">,
  seen: TxObservation,
  confirmations: number,
  now: Date,
  vanishAfterMs: number,
): TxVerdict {
  const r = seen.receipt;
  if (r === undefined) {
    if (record.status !== "submitted") return { kind: "reorged" };
    if (seen.known) return { kind: "pending" };
    return now.getTime() - record.submittedAt.getTime() >= vanishAfterMs
      ? { kind: "vanished" }
      : { kind: "pending" };
  }
  if (seen.canonicalHash === undefined || seen.canonicalHash.toLowerCase() !== r.blockHash.toLowerCase()) {
    return { kind: "reorged" };
  }
  if (r.status === "reverted") return { kind: "reverted", blockNumber: r.blockNumber };
  const depth = seen.head >= r.blockNumber ? seen.head - r.blockNumber + 1n : 0n;
  return depth >= BigInt(Math.max(1, confirmations))
    ? { kind: "final", blockNumber: r.blockNumber, blockHash: r.blockHash, depth }
    : { kind: "included", blockNumber: r.blockNumber, blockHash: r.blockHash, depth };
}

/** EIP-1559 fees of a transaction, in wei. */
export interface TxFees {
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
}

/** One signed version of an anchoring transaction: what is needed to follow it and to sign its replacement. */
export interface SentTx extends TxFees {
  readonly txHash: Hex32;
  readonly sender: Hex32;
  readonly nonce: bigint;
  readonly gas: bigint;
  readonly data: Hex32;
}

/** A recorded version of an anchoring transaction (migrations/050_anchor_attempts.sql). */
export interface TxAttempt extends SentTx {
  /** The hash of the group's first version. */
  readonly firstHash: Hex32;
  readonly sentAt: Date;
}

const minOf = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const maxOf = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** The first version's fees: the network's estimate, its max fee capped at `maxFee` (the tip never above it). */
export function initialFees(network: TxFees, maxFee: bigint): TxFees {
  const maxFeePerGas = minOf(network.maxFeePerGas, maxFee);
  return { maxFeePerGas, maxPriorityFeePerGas: minOf(network.maxPriorityFeePerGas, maxFeePerGas) };
}

/**
 * The smallest fee a node accepts for a replacement: the previous one + 12.5 % (rounded up), and at least + 1
 * wei (geth's pool asks for + 10 % by default and strictly more; others ask for more than geth, none above 12.5 %).
 */
export function replacementMinimum(previous: bigint): bigint {
  return maxOf(previous + (previous + 7n) / 8n, previous + 1n);
}

export type FeeBump =
  | ({ readonly kind: "bump" } & TxFees)
  /** The replacement minimum would pass `maxFee`: keep waiting at the last fees, and report. */
  | { readonly kind: "capped"; readonly needed: bigint };

/**
 * The fees of a replacement: each fee at least the replacement minimum of the previous version's and at least
 * the network's current estimate, the max fee capped at `maxFee` (a replacement below the minimum would be
 * refused by the node, so none is sent then), the tip never above the max fee.
 */
export function bumpFees(previous: TxFees, network: TxFees, maxFee: bigint): FeeBump {
  const minFee = replacementMinimum(previous.maxFeePerGas);
  const minTip = replacementMinimum(previous.maxPriorityFeePerGas);
  const needed = maxOf(minFee, minTip);
  if (needed > maxFee) return { kind: "capped", needed };
  const maxFeePerGas = minOf(maxOf(needed, network.maxFeePerGas), maxFee);
  const tip = maxOf(minTip, network.maxPriorityFeePerGas);
  return { kind: "bump", maxFeePerGas, maxPriorityFeePerGas: minOf(tip, maxFeePerGas) };
}

/** A stream's last anchored commitment on chain, and a lookup of its anchored commitments by end. */
export interface OnChainCommitment {
  readonly sequenceStart: bigint;
  readonly sequenceEnd: bigint;
  readonly merkleRoot: Hex32;
  /** The contract's predecessor's new state root (zeros for a stream's first): the chain link. */
  readonly prevStateRoot: Hex32;
  readonly newStateRoot: Hex32;
  readonly blockNumber: bigint;
}

export type AnchorCheck =
  | { readonly valid: true }
  | {
      readonly valid: false;
      readonly reason:
        | "not_anchored"
        | "range_mismatch"
        | "merkle_root_mismatch"
        | "new_state_root_mismatch"
        | "prev_state_root_mismatch";
      readonly message: string;
    };

/** Compares a commitment with the contract's record of it: range, roots and the chain link. */
export function checkAnchor(
  c: Pick<Commitment, "sequenceStart" | "sequenceEnd" | "merkleRoot" | "prevStateRoot" | "newStateRoot">,
  onChain: OnChainCommitment | undefined,
): AnchorCheck {
  if (onChain === undefined) {
    return {
      valid: false,
      reason: "not_anchored",
      message: `no anchored commitment ends at ${c.sequenceEnd}`,
    };
  }
  if (onChain.sequenceStart !== c.sequenceStart || onChain.sequenceEnd !== c.sequenceEnd) {
    return {
      valid: false,
      reason: "range_mismatch",
      message: `the contract's commitment covers ${onChain.sequenceStart}..${onChain.sequenceEnd}, expected ${c.sequenceStart}..${c.sequenceEnd}`,
    };
  }
  const pairs = [
    ["merkle_root_mismatch", "merkle root", onChain.merkleRoot, c.merkleRoot],
    ["new_state_root_mismatch", "new state root", onChain.newStateRoot, c.newStateRoot],
    ["prev_state_root_mismatch", "previous state root (chain link)", onChain.prevStateRoot, c.prevStateRoot],
  ] as const;
  for (const [reason, what, actual, expected] of pairs) {
    if (actual.toLowerCase() !== hex32(expected)) {
      return {
        valid: false,
        reason,
        message: `the contract's ${what} is ${actual}, expected ${hex32(expected)}`,
      };
    }
  }
  return { valid: true };
}

export type StreamPlan =
  | {
      readonly kind: "plan";
      /** Already on chain with the same roots (a lost receipt, a crash after sending): record, never re-send. */
      readonly onChain: readonly { readonly commitment: Commitment; readonly anchored: OnChainCommitment }[];
      /** To send, in chain order, each starting at the previous end + 1 after the chain's last end. */
      readonly toSend: readonly Commitment[];
    }
  | { readonly kind: "conflict"; readonly message: string };

/**
 * Decides what to do with a stream's unanchored commitments (in chain order) given the contract's state:
 * record the ones the chain already holds (same roots), send the ones after the chain's last end, and refuse
 * to go on when the chain holds something else (another writer, or a chain reset under a final anchor).
 */
export function planStreamAnchors(
  commitments: readonly Commitment[],
  chainEnd: bigint,
  anchoredAt: ReadonlyMap<bigint, OnChainCommitment>,
): StreamPlan {
  const onChain: { commitment: Commitment; anchored: OnChainCommitment }[] = [];
  const toSend: Commitment[] = [];
  let expectStart: bigint | undefined;
  for (const c of commitments) {
    const at = `stream ${c.tenantId}/${c.storeId}, commitment ${c.sequenceStart}..${c.sequenceEnd}`;
    if (c.sequenceEnd <= chainEnd) {
      const a = anchoredAt.get(c.sequenceEnd);
      if (a === undefined || a.sequenceStart !== c.sequenceStart) {
        return { kind: "conflict", message: `${at}: the contract holds no commitment with this range` };
      }
      if (a.merkleRoot !== hex32(c.merkleRoot) || a.newStateRoot !== hex32(c.newStateRoot)) {
        return {
          kind: "conflict",
          message: `${at}: the contract holds other roots (merkle ${a.merkleRoot}, state ${a.newStateRoot})`,
        };
      }
      onChain.push({ commitment: c, anchored: a });
      continue;
    }
    if (c.sequenceStart <= chainEnd) {
      return { kind: "conflict", message: `${at}: the contract's last end ${chainEnd} falls inside it` };
    }
    if (toSend.length === 0 && c.sequenceStart !== chainEnd + 1n) {
      return {
        kind: "conflict",
        message: `${at}: the contract's last end is ${chainEnd}, expected ${c.sequenceStart - 1n} (commitments recorded as anchored are not on chain)`,
      };
    }
    if (expectStart !== undefined && c.sequenceStart !== expectStart) break;
    toSend.push(c);
    expectStart = c.sequenceEnd + 1n;
  }
  return { kind: "plan", onChain, toSend };
}

/** Why an anchoring attempt failed, as the chain adapter classifies it. */
export type AnchorFailureKind =
  /** Timeouts, connection loss, nonce races, an overloaded node: retried soon with backoff. */
  | "retryable"
  /** The contract refused (a typed error such as SequenceGap): nothing was anchored. */
  | "refused"
  | "insufficient_funds"
  /** Anything else (a misconfigured contract address, an unexpected error). */
  | "failed";

/**
 * Delay before the next attempt: retryable failures back off exponentially from `baseMs` to `maxMs`; the
 * others are retried at the slow pace `slowMs`. Both with ±50% jitter (random in [0, 1)).
 */
export function anchorRetryDelayMs(
  kind: AnchorFailureKind,
  failures: number,
  random: number,
  opts: { readonly baseMs: number; readonly maxMs: number; readonly slowMs: number },
): number {
  const raw =
    kind === "retryable" ? Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, failures - 1)) : opts.slowMs;
  return Math.round(raw * (0.5 + random));
}

/** A classified anchoring failure (the chain adapter makes these from RPC and contract errors). */
export class AnchorFailure extends Error {
  override readonly name = "AnchorFailure";
  readonly kind: AnchorFailureKind;
  /** Machine-readable: the contract's error name (SequenceGap, ...), "insufficient_funds", "timeout", ... */
  readonly reason: string;
  /** With kind "refused": the stream the contract refused, when its error names one. */
  readonly stream: { readonly tenantId: Hex32; readonly storeId: Hex32 } | undefined;

  constructor(
    kind: AnchorFailureKind,
    reason: string,
    message: string,
    opts: { cause?: unknown; stream?: { tenantId: Hex32; storeId: Hex32 } | undefined } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    this.reason = reason;
    this.stream = opts.stream;
  }
}
