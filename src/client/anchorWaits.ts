// Agent SDK: the producer's anchored tier (AppendRequest.anchor_upgrades). Each event's `anchored` promise waits
// for its sealed upgrade (proof and signed checkpoint, verified by the producer), then for the AnchoredUpgrade of
// that checkpoint's commitment, and is fulfilled only once receipt → proof → checkpoint → anchor verifies
// (verifyReceipt's anchor option): against the server's upgrade, or, with a viem public client, against the
// contract's own record read from the chain, at least `confirmations` deep. Anchored upgrades that the stream
// will no longer push (it was lost, or ended before they came) are fetched with AnchorService.GetAnchorStatus.
// Browser-safe (viem types only; the caller brings the client).
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import type { Address } from "viem";
import { AnchorService, AnchorState } from "../../gen/ves/sequencer/v1/anchor_pb.js";
import type { Receipt } from "../../gen/ves/sequencer/v1/event_pb.js";
import type { Commitment, InclusionProof } from "../../gen/ves/sequencer/v1/proof_pb.js";
import type { AnchoredUpgrade } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { bytesToHex } from "../crypto/bytes.js";
import type { Ed25519 } from "../crypto/ed25519.js";
import type { Sha256 } from "../crypto/sha256.js";
import { type Hex32, hex32, type OnChainCommitment } from "../domain/anchor.js";
import { AgentError } from "./agentError.js";
import type { VerifyAnchorOptions } from "./verifyAnchor.js";
import { type AnchoredReceiptVerdict, verifyReceipt } from "./verifyReceipt.js";

/** The producer's `anchorUpgrades` option, as an object. */
export interface AnchorUpgradesOptions {
  /**
   * A viem public client of the anchor chain: each anchor is then checked against the contract's own record
   * (range, roots, chain link, block) and its depth, not only against the server's upgrade.
   */
  readonly client?: VerifyAnchorOptions["client"];
  /** The VesAnchor contract the anchor must be on (pinned out of band); default: the one the server names. */
  readonly address?: Address;
  /** The chain the anchor must be on; default: the one the server names. */
  readonly chainId?: number | bigint;
  /** With `client`: blocks deep the anchor must be; default the server's own (AnchoredUpgrade.confirmations). */
  readonly confirmations?: number;
  /** How often anchors not pushed on the stream are fetched, and a shallow anchor re-read (default 1,000 ms). */
  readonly pollMs?: number;
}

/** An event's anchor on the EVM chain, verified down from its receipt. */
export interface AnchoredEvent {
  /** The event's inclusion proof and the signed checkpoint it leads to (as in `sealed`). */
  readonly proof: InclusionProof;
  readonly checkpoint: Commitment;
  readonly chainId: bigint;
  readonly contractAddress: Address;
  readonly txHash: Hex32;
  readonly blockNumber: bigint;
  readonly blockHash: Hex32;
  /** The depth at which the server counts the anchor final. */
  readonly confirmations: number;
  /**
   * "chain": the contract's record was read with the `client` option and found at least `confirmations` deep;
   * "server": checked against the server's AnchoredUpgrade only (it names exactly the sealed, signed checkpoint).
   */
  readonly checkedOn: "chain" | "server";
  /** With "chain": blocks from the anchor's block to the head read, inclusive. */
  readonly depth: bigint | undefined;
}

/** An event's verified sealed upgrade (the producer's SealedEvent). */
interface SealedProof {
  readonly proof: InclusionProof;
  readonly checkpoint: Commitment;
}

interface Wait {
  readonly receipt: Receipt;
  sealed: SealedProof | undefined;
  /** Its stream is gone: its anchor will not be pushed and is fetched instead. */
  orphaned: boolean;
  readonly resolve: (a: AnchoredEvent) => void;
  readonly reject: (e: AgentError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

interface Group {
  readonly commitmentId: string;
  readonly waits: Set<Wait>;
  upgrade: AnchoredUpgrade | undefined;
  checking: boolean;
  again: boolean;
  retry: ReturnType<typeof setTimeout> | undefined;
}

export interface AnchorWaits {
  /** The `anchored` promise of an event whose `sealed` promise is given; never an unhandled rejection. */
  wait(receipt: Receipt, sealed: Promise<SealedProof>): Promise<AnchoredEvent>;
  /** An AnchoredUpgrade pushed on the Append stream. */
  onUpgrade(u: AnchoredUpgrade): void;
  /** The stream ended or was lost: the anchors of every waiting event are fetched from now on. */
  orphan(): void;
  /** Fails every waiting promise (the agent stopped). */
  stop(e: AgentError): void;
  /** Resolves when every `anchored` promise made so far is settled. */
  settled(): Promise<void>;
}

export interface AnchorWaitsOptions {
  readonly transport: Transport;
  readonly headers: Record<string, string>;
  readonly keys: readonly Uint8Array[];
  readonly crypto: { readonly sha256: Sha256; readonly ed25519: Ed25519 };
  readonly timeoutMs: number;
  readonly anchor: AnchorUpgradesOptions;
}

/**
 * The latest anchored upgrades, by commitment, kept for events sealed after their commitment's upgrade came (the
 * sealed promise settles a microtask later; a proof fetched after a reconnect comes later still).
 */
const UPGRADES_KEPT = 256;

type Failure = { readonly reason: string; readonly message: string };

const hexOf = (b: Uint8Array): `0x${string}` => `0x${bytesToHex(b)}`;

/** The fields of an anchored upgrade that must be there and well formed; undefined when they are. */
function malformed(u: AnchoredUpgrade): string | undefined {
  if (u.commitment === undefined) return "no commitment";
  if (u.contractAddress.length !== 20)
    return `contract_address of ${u.contractAddress.length} bytes, expected 20`;
  if (u.txHash.length !== 32) return `tx_hash of ${u.txHash.length} bytes, expected 32`;
  if (u.blockHash.length !== 32) return `block_hash of ${u.blockHash.length} bytes, expected 32`;
  if (u.blockNumber === 0n) return "block_number 0";
  return undefined;
}

/** The anchor the server states, in the contract's terms (the pure check compares the checkpoint with it). */
function statedOnChain(c: Commitment, blockNumber: bigint): OnChainCommitment {
  return {
    sequenceStart: c.sequenceStart,
    sequenceEnd: c.sequenceEnd,
    merkleRoot: hex32(c.merkleRoot),
    prevStateRoot: hex32(c.prevStateRoot),
    newStateRoot: hex32(c.newStateRoot),
    blockNumber,
  };
}

export function createAnchorWaits(opts: AnchorWaitsOptions): AnchorWaits {
  const anchors = createClient(AnchorService, opts.transport);
  const pollMs = opts.anchor.pollMs ?? 1000;
  const waits = new Set<Wait>();
  const groups = new Map<string, Group>();
  const known = new Map<string, AnchoredUpgrade>();
  const open = new Set<Promise<unknown>>();
  let polling = false;
  let stopped: AgentError | undefined;

  function finish(w: Wait): boolean {
    if (!waits.delete(w)) return false;
    clearTimeout(w.timer);
    const g = w.sealed === undefined ? undefined : groups.get(w.sealed.checkpoint.commitmentId);
    g?.waits.delete(w);
    if (g !== undefined && g.waits.size === 0) {
      clearTimeout(g.retry);
      groups.delete(g.commitmentId);
    }
    return true;
  }

  function fail(w: Wait, f: Failure): void {
    if (!finish(w)) return;
    const eventId = w.receipt.eventId;
    w.reject(
      new AgentError(
        "bad_receipt",
        `event ${eventId}: the anchor does not verify (${f.reason}): ${f.message}`,
        {
          eventId,
          code: f.reason,
        },
      ),
    );
  }

  /** The checks of the server's statement that need no crypto: the commitment and the pinned chain/contract. */
  function precheck(w: Wait & { sealed: SealedProof }, u: AnchoredUpgrade): Failure | undefined {
    const bad = malformed(u);
    if (bad !== undefined) return { reason: "malformed_anchor", message: `the anchored upgrade has ${bad}` };
    const c = u.commitment as Commitment;
    const cp = w.sealed.checkpoint;
    if (c.commitmentId !== cp.commitmentId || c.tenantId !== cp.tenantId || c.storeId !== cp.storeId) {
      return {
        reason: "commitment_mismatch",
        message: `the anchored upgrade is for commitment ${c.commitmentId} of ${c.tenantId}/${c.storeId}, the event was sealed by ${cp.commitmentId}`,
      };
    }
    const pinned = opts.anchor.chainId;
    if (pinned !== undefined && BigInt(pinned) !== u.chainId) {
      return { reason: "chain_mismatch", message: `anchored on chain ${u.chainId}, expected ${pinned}` };
    }
    const address = opts.anchor.address;
    if (address !== undefined && address.toLowerCase() !== hexOf(u.contractAddress)) {
      return {
        reason: "contract_mismatch",
        message: `anchored by contract ${hexOf(u.contractAddress)}, expected ${address.toLowerCase()}`,
      };
    }
    return undefined;
  }

  /** receipt → proof → checkpoint → anchor for one event, with the first pinned key its checkpoint verifies under. */
  async function verify(
    w: Wait & { sealed: SealedProof },
    u: AnchoredUpgrade,
  ): Promise<AnchoredReceiptVerdict> {
    const upgrade = { proof: w.sealed.proof, checkpoint: w.sealed.checkpoint };
    const crypto = { sha256: opts.crypto.sha256, ed25519: opts.crypto.ed25519 };
    let key = opts.keys[0] as Uint8Array;
    for (const k of opts.keys) {
      if (verifyReceipt(w.receipt, k, { upgrade, ...crypto }).valid) {
        key = k;
        break;
      }
    }
    const client = opts.anchor.client;
    if (client === undefined) {
      const onChain = statedOnChain(u.commitment as Commitment, u.blockNumber);
      return verifyReceipt(w.receipt, key, {
        upgrade,
        anchor: { onChain, blockNumber: u.blockNumber },
        ...crypto,
      });
    }
    return verifyReceipt(w.receipt, key, {
      upgrade,
      anchor: {
        client,
        address: hexOf(u.contractAddress),
        blockNumber: u.blockNumber,
        confirmations: opts.anchor.confirmations ?? Math.max(1, u.confirmations),
      },
      ...crypto,
    });
  }

  /** Checks the group's events against its anchored upgrade; one chain read per distinct checkpoint. */
  async function check(g: Group): Promise<void> {
    if (g.checking) {
      g.again = true;
      return;
    }
    const u = g.upgrade;
    if (u === undefined) return;
    g.checking = true;
    let shallow = false;
    try {
      const verdicts = new Map<string, AnchoredReceiptVerdict | Failure>();
      for (const w of [...g.waits]) {
        const sealedWait = w as Wait & { sealed: SealedProof };
        const pre = precheck(sealedWait, u);
        if (pre !== undefined) {
          fail(w, pre);
          continue;
        }
        // Events sealed by the same signed checkpoint share its anchor: verify the chain once per checkpoint,
        // each event's receipt → proof → checkpoint was verified when it was sealed.
        const cpKey = bytesToHex(sealedWait.sealed.checkpoint.checkpointHash);
        let v = verdicts.get(cpKey);
        if (v === undefined) {
          try {
            v = await verify(sealedWait, u);
          } catch (err) {
            v = { reason: "unavailable", message: `reading the anchor failed: ${(err as Error).message}` };
          }
          verdicts.set(cpKey, v);
        }
        if (stopped !== undefined || !waits.has(w)) continue;
        if ("valid" in v && v.valid) {
          if (!finish(w)) continue;
          const c = sealedWait.sealed;
          w.resolve({
            proof: c.proof,
            checkpoint: c.checkpoint,
            chainId: u.chainId,
            contractAddress: hexOf(u.contractAddress),
            txHash: hex32(u.txHash),
            blockNumber: v.blockNumber,
            blockHash: hex32(u.blockHash),
            confirmations: u.confirmations,
            checkedOn: opts.anchor.client === undefined ? "server" : "chain",
            depth: v.depth,
          });
        } else if (v.reason === "not_final" || v.reason === "unavailable") {
          shallow = true; // the caller's node lags behind the server's, or did not answer: read again shortly
        } else {
          fail(w, v);
        }
      }
    } finally {
      g.checking = false;
    }
    if (g.waits.size === 0 || stopped !== undefined) return;
    if (g.again) {
      g.again = false;
      void check(g);
    } else if (shallow && g.retry === undefined) {
      g.retry = setTimeout(() => {
        g.retry = undefined;
        void check(g);
      }, pollMs);
    }
  }

  function remember(id: string, u: AnchoredUpgrade): void {
    known.delete(id);
    known.set(id, u);
    if (known.size > UPGRADES_KEPT) known.delete(known.keys().next().value as string);
  }

  function onSealed(w: Wait, s: SealedProof): void {
    if (!waits.has(w)) return;
    w.sealed = s;
    const id = s.checkpoint.commitmentId;
    let g = groups.get(id);
    if (g === undefined) {
      g = {
        commitmentId: id,
        waits: new Set(),
        upgrade: known.get(id),
        checking: false,
        again: false,
        retry: undefined,
      };
      groups.set(id, g);
    }
    g.waits.add(w);
    if (g.upgrade !== undefined) void check(g);
    else if (w.orphaned) poll();
  }

  /** Fetches the anchors of orphaned events' commitments until each is fulfilled, fails or times out. */
  function poll(): void {
    if (polling) return;
    polling = true;
    void (async () => {
      try {
        while (stopped === undefined && [...waits].some((w) => w.orphaned)) {
          const due = [...groups.values()].filter(
            (g) => g.upgrade === undefined && [...g.waits].some((w) => w.orphaned),
          );
          for (const g of due) {
            const first = [...g.waits][0];
            if (first?.sealed === undefined) continue;
            try {
              const res = await anchors.getAnchorStatus(
                {
                  tenantId: first.sealed.checkpoint.tenantId,
                  storeId: first.sealed.checkpoint.storeId,
                  selector: { selector: { case: "commitmentId", value: g.commitmentId } },
                },
                { headers: opts.headers },
              );
              if (res.state === AnchorState.FINAL && g.upgrade === undefined) {
                g.upgrade = {
                  $typeName: "ves.sequencer.v1.AnchoredUpgrade",
                  commitment: res.commitment,
                  chainId: res.target?.chainId ?? 0n,
                  contractAddress: res.target?.contractAddress ?? new Uint8Array(0),
                  txHash: res.txHash,
                  blockNumber: res.blockNumber,
                  blockHash: res.blockHash,
                  confirmations: res.target?.confirmations ?? 0,
                };
                remember(g.commitmentId, g.upgrade);
                void check(g);
              }
            } catch (err) {
              const e = ConnectError.from(err);
              // By commitment id, FAILED_PRECONDITION means the server does not anchor (ANCHOR_RPC_URL unset).
              if (e.code === Code.FailedPrecondition) {
                for (const w of [...g.waits]) {
                  if (!finish(w)) continue;
                  w.reject(
                    new AgentError("unavailable", `event ${w.receipt.eventId}: ${e.rawMessage}`, {
                      eventId: w.receipt.eventId,
                      code: Code[e.code],
                      cause: e,
                    }),
                  );
                }
              }
              // otherwise unreachable or not permitted yet: try again (each wait's own timeout bounds this)
            }
          }
          await new Promise((r) => setTimeout(r, pollMs));
        }
      } finally {
        polling = false;
      }
    })();
  }

  return {
    wait(receipt, sealed) {
      if (stopped !== undefined) {
        const p = Promise.reject(stopped);
        p.catch(() => {});
        return p;
      }
      const p = new Promise<AnchoredEvent>((resolve, reject) => {
        const w: Wait = {
          receipt,
          sealed: undefined,
          orphaned: false,
          resolve,
          reject,
          timer: setTimeout(() => {
            if (!finish(w)) return;
            reject(
              new AgentError(
                "unavailable",
                `event ${receipt.eventId} was not anchored within ${opts.timeoutMs} ms`,
                { eventId: receipt.eventId },
              ),
            );
          }, opts.timeoutMs),
        };
        waits.add(w);
        sealed.then(
          (s) => onSealed(w, s),
          (e: AgentError) => {
            if (finish(w)) reject(e);
          },
        );
      });
      // A caller who ignores `anchored` must not see an unhandled rejection.
      const done: Promise<unknown> = p.then(
        () => open.delete(done),
        () => open.delete(done),
      );
      open.add(done);
      return p;
    },
    onUpgrade(u) {
      const id = u.commitment?.commitmentId;
      if (id === undefined || waits.size === 0) return;
      remember(id, u);
      const g = groups.get(id);
      if (g !== undefined) {
        g.upgrade = u;
        void check(g);
      }
    },
    orphan() {
      if (waits.size === 0) return;
      for (const w of waits) w.orphaned = true;
      poll();
    },
    stop(e) {
      stopped = e;
      for (const w of [...waits]) if (finish(w)) w.reject(e);
      known.clear();
    },
    async settled() {
      await Promise.all(open);
    },
  };
}
