// npm run anchor -- <command>: anchoring administration.
//   deploy   deploys contracts/VesAnchor.sol and prints its address (JSON)
//   lag      prints, per stream, the sealed, anchored (included) and final ends and how far anchoring trails
// Reads the ANCHOR_* and DATABASE_URL variables of the server (see --help); keys are never printed.
import { parseArgs } from "node:util";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anchorChain, anchorPublicClient, anchorWalletClient } from "../infra/eth/chain.js";
import { deployVesAnchor } from "../infra/eth/deployVesAnchor.js";
import { redactRpcUrl } from "../infra/eth/viemAnchorChain.js";
import { createSql } from "../infra/pg/createSql.js";
import { createPgAnchorStore } from "../infra/pg/pgAnchorStore.js";

const HELP = `npm run anchor -- <command> [options]

Commands:
  deploy   deploy the VesAnchor contract and print its address
             --rpc URL          (default ANCHOR_RPC_URL)
             --submitters LIST  comma-separated addresses allowed to anchor (default: the deployer's address)
           The deployer's key comes from ANCHOR_DEPLOYER_KEY, else ANCHOR_SUBMITTER_KEY (0x + 64 hex); it
           becomes the contract's owner. Prints {"address", "chainId", "txHash", "blockNumber", "gasUsed"}.
  lag      per stream: sealed end, anchored (included) end, final end, and events not yet final
             needs DATABASE_URL, ANCHOR_CHAIN_ID and ANCHOR_CONTRACT_ADDRESS
             --limit N          streams to show (default 100)
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

const command = process.argv[2];
const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    rpc: { type: "string" },
    submitters: { type: "string" },
    limit: { type: "string", default: "100" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (command === undefined || values.help || command === "--help" || command === "-h") {
  process.stdout.write(HELP);
} else if (command === "deploy") {
  const rpcUrl = values.rpc ?? env("ANCHOR_RPC_URL") ?? fail("deploy needs --rpc or ANCHOR_RPC_URL");
  const key = env("ANCHOR_DEPLOYER_KEY") ?? env("ANCHOR_SUBMITTER_KEY");
  if (key === undefined || !/^0x[0-9a-fA-F]{64}$/.test(key)) {
    fail("deploy needs ANCHOR_DEPLOYER_KEY or ANCHOR_SUBMITTER_KEY: 0x and 64 hex characters");
  }
  const probe = anchorPublicClient(anchorChain(1, rpcUrl), rpcUrl);
  const chainId = await probe
    .getChainId()
    .catch((err: unknown) =>
      fail(`the chain at ${redactRpcUrl(rpcUrl)} did not answer: ${(err as Error).message.split("\n")[0]}`),
    );
  const chain = anchorChain(chainId, rpcUrl);
  const account = privateKeyToAccount(key as `0x${string}`);
  const submitters = (values.submitters?.split(",").filter((s) => s !== "") ?? [
    account.address,
  ]) as Address[];
  for (const s of submitters)
    if (!/^0x[0-9a-fA-F]{40}$/.test(s)) fail(`--submitters: ${JSON.stringify(s)} is not an address`);
  const d = await deployVesAnchor(
    anchorWalletClient(chain, rpcUrl, account),
    anchorPublicClient(chain, rpcUrl),
    submitters,
  );
  process.stdout.write(
    `${JSON.stringify({ address: d.address, chainId, owner: account.address, submitters, txHash: d.txHash, blockNumber: String(d.blockNumber), gasUsed: String(d.gasUsed) })}\n`,
  );
} else if (command === "lag") {
  const url = env("DATABASE_URL") ?? fail("lag needs DATABASE_URL");
  const chainId = Number(env("ANCHOR_CHAIN_ID") ?? fail("lag needs ANCHOR_CHAIN_ID"));
  const address = env("ANCHOR_CONTRACT_ADDRESS") ?? fail("lag needs ANCHOR_CONTRACT_ADDRESS");
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) fail("ANCHOR_CONTRACT_ADDRESS expected 0x and 40 hex characters");
  const sql = createSql(url, { max: 1 });
  try {
    const store = createPgAnchorStore(sql, {
      chainId,
      contractAddress: address.toLowerCase() as `0x${string}`,
    });
    for (const r of await store.lag(Number(values.limit))) {
      const failure = await store.streamFailure(r.stream);
      process.stdout.write(
        `${JSON.stringify({
          tenantId: r.stream.tenantId,
          storeId: r.stream.storeId,
          sealedEnd: String(r.sealedEnd),
          anchoredEnd: String(r.anchoredEnd),
          finalEnd: String(r.finalEnd),
          eventsNotFinal: String(r.sealedEnd - r.finalEnd),
          ...(failure === undefined
            ? {}
            : { failure: failure.reason, message: failure.message, retryAt: failure.retryAt }),
        })}\n`,
      );
    }
  } finally {
    await sql.end({ timeout: 1 });
  }
} else {
  fail(`unknown command ${JSON.stringify(command)}\n\n${HELP}`);
}
