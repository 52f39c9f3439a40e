// Deploys contracts/VesAnchor.sol (the committed artifacts in contracts/gen/) and waits for its receipt.
import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from "viem";
import { vesAnchorAbi, vesAnchorBytecode } from "../../../contracts/gen/vesAnchor.js";

export interface DeployedAnchor {
  readonly address: Address;
  readonly txHash: `0x${string}`;
  readonly blockNumber: bigint;
  readonly gasUsed: bigint;
}

export async function deployVesAnchor(
  wallet: WalletClient<Transport, Chain, Account>,
  client: PublicClient,
  submitters: readonly Address[],
): Promise<DeployedAnchor> {
  const txHash = await wallet.deployContract({
    abi: vesAnchorAbi,
    bytecode: vesAnchorBytecode,
    args: [submitters],
  });
  const receipt = await client.waitForTransactionReceipt({ hash: txHash, pollingInterval: 50 });
  if (receipt.status !== "success" || receipt.contractAddress == null) {
    throw new Error(`deploying VesAnchor failed in transaction ${txHash} (status ${receipt.status})`);
  }
  return {
    address: receipt.contractAddress,
    txHash,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
  };
}
