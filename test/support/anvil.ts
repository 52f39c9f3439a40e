// Anvil for tests: a fresh chain on a free port with VesAnchor deployed by dev account #0 (also a submitter).
import type { Address, Chain } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ANVIL_DEV_KEY, type Anvil, type AnvilOptions, startAnvil } from "../../src/infra/eth/anvil.js";
import { anchorChain, anchorPublicClient, anchorWalletClient } from "../../src/infra/eth/chain.js";
import { deployVesAnchor } from "../../src/infra/eth/deployVesAnchor.js";

export interface AnchorChainFixture {
  readonly anvil: Anvil;
  readonly chain: Chain;
  readonly address: Address;
  readonly owner: ReturnType<typeof privateKeyToAccount>;
  readonly client: ReturnType<typeof anchorPublicClient>;
  readonly wallet: ReturnType<typeof anchorWalletClient>;
  /** A raw JSON-RPC call (evm_snapshot, anvil_setBalance, ...). */
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startAnchorChain(
  opts: AnvilOptions & { readonly submitters?: readonly Address[] } = {},
): Promise<AnchorChainFixture> {
  const anvil = await startAnvil(opts);
  const chain = anchorChain(anvil.chainId, anvil.url);
  const owner = privateKeyToAccount(ANVIL_DEV_KEY);
  const client = anchorPublicClient(chain, anvil.url);
  const wallet = anchorWalletClient(chain, anvil.url, owner);
  try {
    const { address } = await deployVesAnchor(wallet, client, opts.submitters ?? [owner.address]);
    return {
      anvil,
      chain,
      address,
      owner,
      client,
      wallet,
      async rpc(method, params = []) {
        const res = await fetch(anvil.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
        });
        const body = (await res.json()) as { result?: unknown; error?: { message: string } };
        if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
        return body.result;
      },
      stop: () => anvil.stop(),
    };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/** Sequencer environment that anchors to the fixture's contract quickly (short cadence, depth 3). */
export function anchorEnv(
  fx: AnchorChainFixture,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ANCHOR_RPC_URL: fx.anvil.url,
    ANCHOR_CHAIN_ID: String(fx.anvil.chainId),
    ANCHOR_CONTRACT_ADDRESS: fx.address,
    ANCHOR_SUBMITTER_KEY: ANVIL_DEV_KEY,
    ANCHOR_CONFIRMATIONS: "3",
    ANCHOR_INTERVAL_MS: "100",
    ANCHOR_LEADER_POLL_MS: "200",
    ANCHOR_SLOW_RETRY_MS: "300",
    COMMIT_MAX_EVENTS: "4",
    COMMIT_MAX_AGE_MS: "50",
    COMMIT_POLL_MS: "20",
    ...extra,
  };
}
