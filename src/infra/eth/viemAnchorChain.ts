// AnchorChain over viem: reads VesAnchor's state, observes transactions, simulates and sends anchorMany with the
// submitter's local account (viem fills the nonce; the worker sets the EIP-1559 fees and bumps them), and classifies every failure (AnchorFailure).
import {
  type Account,
  BaseError,
  type Chain,
  encodeFunctionData,
  encodePacked,
  type Hex,
  keccak256,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { vesAnchorAbi } from "../../../contracts/gen/vesAnchor.js";
import type { AnchorChain } from "../../app/anchorPorts.js";
import {
  AnchorFailure,
  type Hex32,
  type OnChainCommitment,
  type SentTx,
  uuidToBytes32,
} from "../../domain/anchor.js";
import type { StreamKey } from "../../domain/event.js";
import { anchorRevert } from "./anchorRevert.js";

const STREAM_ERRORS = new Set(["SequenceGap", "StateRootMismatch", "StateRootInvalid"]);

/** Strips a URL's credentials and path (RPC providers put API keys there) for messages and logs. */
export function redactRpcUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" || u.pathname === "" ? "" : "/***"}`;
  } catch {
    return "<unparseable url>";
  }
}

/** Classifies a viem (or fetch) error. The RPC URL is redacted from the message. */
export function classifyAnchorError(err: unknown, rpcUrl: string): AnchorFailure {
  if (err instanceof AnchorFailure) return err;
  const raw =
    err instanceof BaseError
      ? [err.shortMessage, ...(err.details ? [err.details] : [])].join(": ")
      : String((err as Error)?.message ?? err);
  const message = raw.split(rpcUrl).join(redactRpcUrl(rpcUrl));
  const revert = anchorRevert(err);
  if (revert !== undefined) {
    const args = revert.args.map((a) => (typeof a === "bigint" ? a.toString() : String(a)));
    const stream = STREAM_ERRORS.has(revert.errorName)
      ? { tenantId: revert.args[0] as Hex32, storeId: revert.args[1] as Hex32 }
      : undefined;
    return new AnchorFailure(
      "refused",
      revert.errorName,
      `the anchor contract refused: ${revert.errorName}(${args.join(", ")})`,
      { cause: err, stream },
    );
  }
  const names = new Set<string>();
  if (err instanceof BaseError) {
    err.walk((e) => {
      names.add((e as Error).name);
      return false;
    });
  }
  const text = `${[...names].join(" ")} ${message}`;
  if (/InsufficientFunds|insufficient funds/i.test(text)) {
    return new AnchorFailure(
      "insufficient_funds",
      "insufficient_funds",
      `the submitter cannot pay for gas: ${message}`,
      {
        cause: err,
      },
    );
  }
  if (/Nonce|nonce too|replacement transaction underpriced|already known/i.test(text)) {
    return new AnchorFailure("retryable", "nonce", message, { cause: err });
  }
  if (
    /Timeout|timed out|HttpRequestError|fetch failed|ECONNREFUSED|ECONNRESET|socket|network|UnknownNodeError|LimitExceeded/i.test(
      text,
    )
  ) {
    return new AnchorFailure("retryable", "unavailable", message, { cause: err });
  }
  return new AnchorFailure("failed", "error", message, { cause: err });
}

export interface ViemAnchorChainOptions {
  readonly client: PublicClient;
  readonly wallet: WalletClient<Transport, Chain, Account>;
  readonly address: Hex32;
  readonly rpcUrl: string;
  /** Gas limit sent = estimate × (1 + margin). */
  readonly gasMargin?: number;
}

export function streamKeyOnChain(stream: StreamKey): Hex32 {
  return keccak256(
    encodePacked(["bytes32", "bytes32"], [uuidToBytes32(stream.tenantId), uuidToBytes32(stream.storeId)]),
  );
}

export function createViemAnchorChain(opts: ViemAnchorChainOptions): AnchorChain {
  const { client, wallet, rpcUrl } = opts;
  const address = opts.address.toLowerCase() as Hex32;
  const margin = opts.gasMargin ?? 0.2;
  const classified =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await f(...args);
      } catch (err) {
        throw classifyAnchorError(err, rpcUrl);
      }
    };
  const absent = (err: unknown, name: string): boolean =>
    err instanceof BaseError && err.walk((e) => (e as Error).name === name) !== null;

  const chain: AnchorChain = {
    chainId: wallet.chain.id,
    contractAddress: address,
    latestEnd: classified(async (stream) =>
      client.readContract({
        address,
        abi: vesAnchorAbi,
        functionName: "latestEnd",
        args: [streamKeyOnChain(stream)],
      }),
    ),
    commitmentAt: classified(async (stream, sequenceEnd): Promise<OnChainCommitment | undefined> => {
      const v = await client.readContract({
        address,
        abi: vesAnchorAbi,
        functionName: "getCommitment",
        args: [uuidToBytes32(stream.tenantId), uuidToBytes32(stream.storeId), sequenceEnd],
      });
      if (v.blockNumber === 0n) return undefined;
      return {
        sequenceStart: v.sequenceStart,
        sequenceEnd: v.sequenceEnd,
        merkleRoot: v.merkleRoot.toLowerCase() as Hex32,
        prevStateRoot: v.prevStateRoot.toLowerCase() as Hex32,
        newStateRoot: v.newStateRoot.toLowerCase() as Hex32,
        blockNumber: v.blockNumber,
      };
    }),
    findAnchorTx: classified(async (stream, sequenceEnd, blockNumber) => {
      const logs = await client.getContractEvents({
        address,
        abi: vesAnchorAbi,
        eventName: "CommitmentAnchored",
        args: { streamKey: streamKeyOnChain(stream), sequenceEnd },
        fromBlock: blockNumber,
        toBlock: blockNumber,
      });
      const log = logs.find((l) => !l.removed);
      if (log === undefined || log.transactionHash === null || log.blockHash === null) return undefined;
      return { txHash: log.transactionHash, blockHash: log.blockHash };
    }),
    observe: classified(async (txHash) => {
      const head = await client.getBlockNumber({ cacheTime: 0 });
      let receipt: Awaited<ReturnType<typeof client.getTransactionReceipt>> | undefined;
      try {
        receipt = await client.getTransactionReceipt({ hash: txHash });
      } catch (err) {
        if (!absent(err, "TransactionReceiptNotFoundError")) throw err;
      }
      if (receipt !== undefined) {
        let canonicalHash: Hex32 | undefined;
        try {
          canonicalHash = (await client.getBlock({ blockNumber: receipt.blockNumber })).hash ?? undefined;
        } catch (err) {
          if (!absent(err, "BlockNotFoundError")) throw err;
        }
        return {
          receipt: { status: receipt.status, blockNumber: receipt.blockNumber, blockHash: receipt.blockHash },
          canonicalHash,
          known: true,
          head,
        };
      }
      let known = true;
      try {
        await client.getTransaction({ hash: txHash });
      } catch (err) {
        if (!absent(err, "TransactionNotFoundError")) throw err;
        known = false;
      }
      return { receipt: undefined, canonicalHash: undefined, known, head };
    }),
    estimate: classified(async (items) =>
      client.estimateContractGas({
        address,
        abi: vesAnchorAbi,
        functionName: "anchorMany",
        args: [items.map((i) => ({ ...i }))],
        account: wallet.account,
      }),
    ),
    fees: classified(async () => {
      const f = await client.estimateFeesPerGas({ chain: wallet.chain, type: "eip1559" });
      return { maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas };
    }),
    send: classified(async (items, gas, fees, record) => {
      const data = encodeFunctionData({
        abi: vesAnchorAbi,
        functionName: "anchorMany",
        args: [items.map((i) => ({ ...i }))],
      });
      const request = await wallet.prepareTransactionRequest({
        to: address,
        data,
        gas: gas + (gas * BigInt(Math.round(margin * 1000))) / 1000n,
        type: "eip1559",
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      });
      return signRecordSend({
        data,
        gas: request.gas,
        nonce: BigInt(request.nonce),
        ...fees,
        record,
      });
    }),
    replace: classified(async (previous, fees, record) =>
      signRecordSend({ data: previous.data, gas: previous.gas, nonce: previous.nonce, ...fees, record }),
    ),
  };
  return chain;

  /** Signs an EIP-1559 transaction to the contract, records it (durably), then broadcasts it. */
  async function signRecordSend(tx: {
    data: Hex32;
    gas: bigint;
    nonce: bigint;
    maxFeePerGas: bigint;
    maxPriorityFeePerGas: bigint;
    record: (tx: SentTx) => Promise<void>;
  }): Promise<Hex32> {
    const serialized = (await wallet.signTransaction({
      account: wallet.account,
      chain: wallet.chain,
      type: "eip1559",
      to: address,
      data: tx.data,
      gas: tx.gas,
      nonce: Number(tx.nonce),
      maxFeePerGas: tx.maxFeePerGas,
      maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
    } as never)) as Hex;
    const txHash = keccak256(serialized);
    await tx.record({
      txHash,
      sender: wallet.account.address.toLowerCase() as Hex32,
      nonce: tx.nonce,
      gas: tx.gas,
      data: tx.data,
      maxFeePerGas: tx.maxFeePerGas,
      maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
    });
    await wallet.sendRawTransaction({ serializedTransaction: serialized });
    return txHash;
  }
}
