// viem clients for the anchoring chain: a chain definition from a chain id and RPC URL, public and wallet clients.
import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";

export function anchorChain(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

export function anchorPublicClient(chain: Chain, rpcUrl: string, timeoutMs = 10_000): PublicClient {
  // Retries belong to the worker (it classifies failures); the transport does not retry on its own.
  return createPublicClient({ chain, transport: http(rpcUrl, { timeout: timeoutMs, retryCount: 0 }) });
}

export function anchorWalletClient(
  chain: Chain,
  rpcUrl: string,
  account: Account,
  timeoutMs = 10_000,
): WalletClient<Transport, Chain, Account> {
  return createWalletClient({
    chain,
    account,
    transport: http(rpcUrl, { timeout: timeoutMs, retryCount: 0 }),
  });
}
