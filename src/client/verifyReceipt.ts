// Agent SDK: check a sequencer receipt (docs/protocol.md §2.4) without trusting the server, optionally together
// with its upgrade (an inclusion proof and the signed checkpoint it leads to) and the checkpoint's anchor on an
// EVM chain (the contract's record, given or read with a viem public client through verifyAnchor). Browser-safe;
// pure unless a client is given.
import type { Address } from "viem";
import { type Ed25519, nobleEd25519 } from "../crypto/ed25519.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import { type AnchorCheck, checkAnchor, type OnChainCommitment } from "../domain/anchor.js";
import {
  type CheckpointToCheck,
  checkReceipt,
  checkSealedReceipt,
  type InclusionProofToCheck,
  type ReceiptFailure,
  type ReceiptToCheck,
  type SealedReceiptFailure,
  type Verdict,
} from "../domain/proofChecks.js";
import { readAnchoredCommitment, type VerifyAnchorOptions } from "./verifyAnchor.js";

export type ReceiptToVerify = ReceiptToCheck;

export type ReceiptVerdict = Verdict<ReceiptFailure>;
export type SealedReceiptVerdict = Verdict<SealedReceiptFailure>;

export interface VerifyReceiptOptions {
  /** The signing hash the client computed for its own event; the receipt must be for exactly that. */
  readonly expectedSigningHash?: Uint8Array;
  readonly sha256?: Sha256;
  readonly ed25519?: Ed25519;
}

export interface ReceiptUpgradeToVerify {
  /** The inclusion proof of the receipt's event (ReceiptUpgrade.proofs[i] or GetInclusionProof's proof). */
  readonly proof: InclusionProofToCheck;
  /** The signed checkpoint the proof leads to. */
  readonly checkpoint: CheckpointToCheck;
  /** The key that signed the checkpoint, when the sequencer rotated keys since the receipt. */
  readonly checkpointKey?: Uint8Array;
}

/** The anchor of the checkpoint a ReceiptUpgrade leads to (AppendResponse.anchored_upgrade). */
export interface AnchorOfReceipt {
  /**
   * The contract's record of the checkpoint's commitment (readAnchoredCommitment), already fetched; undefined
   * when the contract has none. Checked without any I/O.
   */
  readonly onChain?: OnChainCommitment | undefined;
  /** Or: read it from the chain with this viem public client (the call then returns a Promise). */
  readonly client?: VerifyAnchorOptions["client"];
  /** The VesAnchor contract (AnchoredUpgrade.contract_address); required with `client`. */
  readonly address?: Address;
  /** The block the server said anchors it (AnchoredUpgrade.block_number); checked when given. */
  readonly blockNumber?: bigint;
  /** With `client`: blocks deep the anchor must be (AnchoredUpgrade.confirmations); default 1. */
  readonly confirmations?: number;
}

export type AnchoredReceiptFailure =
  | SealedReceiptFailure
  | Exclude<AnchorCheck, { valid: true }>["reason"]
  | "block_mismatch"
  | "not_final";

export type AnchoredReceiptVerdict =
  | { readonly valid: true; readonly blockNumber: bigint; readonly depth?: bigint }
  | { readonly valid: false; readonly reason: AnchoredReceiptFailure; readonly message: string };

/**
 * Recomputes the receipt hash from its fields and checks the sequencer's Ed25519 signature over it. With
 * `upgrade`, also checks that the proof is for the receipt's event and leads to the checkpoint's Merkle root,
 * and the checkpoint itself (state root and signature): the event is then provably in the signed log.
 * Returns a verdict for a well-formed but wrong input; throws only for malformed arguments.
 *
 * With `upgrade` and `anchor`, also checks the checkpoint against the anchor contract's record of it (range,
 * Merkle root, new state root, chain link) and, when given, the block: receipt → proof → checkpoint → anchor.
 * With `anchor.client` the record is read from the chain (verifyAnchor's read) and a Promise is returned; with
 * `anchor.onChain` (fetched by the caller) the check is pure.
 */
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts: VerifyReceiptOptions & {
    readonly upgrade: ReceiptUpgradeToVerify;
    readonly anchor: AnchorOfReceipt & {
      readonly client: VerifyAnchorOptions["client"];
      readonly address: Address;
    };
  },
): Promise<AnchoredReceiptVerdict>;
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts: VerifyReceiptOptions & {
    readonly upgrade: ReceiptUpgradeToVerify;
    readonly anchor: AnchorOfReceipt & { readonly client?: undefined };
  },
): AnchoredReceiptVerdict;
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts?: VerifyReceiptOptions,
): ReceiptVerdict;
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts: VerifyReceiptOptions & { readonly upgrade: ReceiptUpgradeToVerify },
): SealedReceiptVerdict;
export function verifyReceipt(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts: VerifyReceiptOptions & {
    readonly upgrade?: ReceiptUpgradeToVerify;
    readonly anchor?: AnchorOfReceipt;
  } = {},
): SealedReceiptVerdict | AnchoredReceiptVerdict | Promise<AnchoredReceiptVerdict> {
  const sealed = verifySealed(r, sequencerPublicKey, opts);
  const anchor = opts.anchor;
  if (anchor === undefined || opts.upgrade === undefined) return sealed;
  const checkpoint = opts.upgrade.checkpoint;
  if (anchor.client === undefined)
    return anchoredVerdict(sealed, checkpoint, anchor.onChain, anchor, undefined);
  if (anchor.address === undefined)
    throw new TypeError("verifyReceipt: anchor.address is required with anchor.client");
  if (!sealed.valid) return Promise.resolve(sealed);
  const { client, address } = anchor;
  return Promise.all([
    readAnchoredCommitment(checkpoint, { client, address }),
    client.getBlockNumber({ cacheTime: 0 }),
  ]).then(([onChain, head]) => anchoredVerdict(sealed, checkpoint, onChain, anchor, head));
}

function anchoredVerdict(
  sealed: SealedReceiptVerdict,
  checkpoint: CheckpointToCheck,
  onChain: OnChainCommitment | undefined,
  anchor: AnchorOfReceipt,
  head: bigint | undefined,
): AnchoredReceiptVerdict {
  if (!sealed.valid) return sealed;
  const check = checkAnchor(checkpoint, onChain);
  if (!check.valid) return check;
  if (onChain === undefined) throw new Error("unreachable: a valid anchor check has an on-chain record");
  if (anchor.blockNumber !== undefined && anchor.blockNumber !== onChain.blockNumber) {
    return {
      valid: false,
      reason: "block_mismatch",
      message: `the contract records the commitment in block ${onChain.blockNumber}, the upgrade says ${anchor.blockNumber}`,
    };
  }
  if (head === undefined) return { valid: true, blockNumber: onChain.blockNumber };
  const depth = head >= onChain.blockNumber ? head - onChain.blockNumber + 1n : 0n;
  const want = BigInt(anchor.confirmations ?? 1);
  if (depth < want) {
    return {
      valid: false,
      reason: "not_final",
      message: `the anchor is ${depth} blocks deep, expected at least ${want}`,
    };
  }
  return { valid: true, blockNumber: onChain.blockNumber, depth };
}

function verifySealed(
  r: ReceiptToVerify,
  sequencerPublicKey: Uint8Array,
  opts: VerifyReceiptOptions & { readonly upgrade?: ReceiptUpgradeToVerify },
): SealedReceiptVerdict {
  const crypto = { sha256: opts.sha256 ?? nobleSha256, ed25519: opts.ed25519 ?? nobleEd25519 };
  if (opts.upgrade === undefined) {
    return checkReceipt(crypto, r, sequencerPublicKey, opts.expectedSigningHash);
  }
  const { proof, checkpoint, checkpointKey } = opts.upgrade;
  return checkSealedReceipt(
    crypto,
    { receipt: r, proof, checkpoint },
    { receiptKey: sequencerPublicKey, checkpointKey },
    opts.expectedSigningHash,
  );
}
