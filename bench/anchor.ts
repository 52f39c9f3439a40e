// Anchoring benchmark on a local anvil (npm @foundry-rs/anvil) and the real PostgreSQL:
//  1. gas: deploying VesAnchor; anchor() of one commitment (a stream's first, and a later one); anchorMany of
//     N commitments (per commitment); verifyInclusion by proof depth (as eth_estimateGas reports it, so including
//     the 21,000 base and calldata, what a transaction calling it would pay);
//  2. anchor lag: the server (child process) anchoring to anvil mining a block every --block-time s, with
//     ANCHOR_CONFIRMATIONS and ANCHOR_INTERVAL_MS at their defaults (6, 5000) unless given; events appended to
//     --streams streams for --seconds; lag per commitment = final_at - committed_at (sealed → final).
// Prints figures; the last line is one JSON object.
//
//   npm run bench -- anchor
//   npm run bench -- anchor --seconds 60 --interval 1000
import { randomBytes, randomUUID } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { encodeFunctionData } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { vesAnchorAbi } from "../contracts/gen/vesAnchor.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signEvent } from "../src/client/signEvent.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { inclusionProof } from "../src/crypto/merkle.js";
import { nativeSha256 } from "../src/crypto/native.js";
import { hex32, toAnchorInput, uuidToBytes32 } from "../src/domain/anchor.js";
import { buildCommitment, type UnsignedCommitment } from "../src/domain/buildCommitment.js";
import { ANVIL_DEV_KEY, startAnvil } from "../src/infra/eth/anvil.js";
import { anchorChain, anchorPublicClient, anchorWalletClient } from "../src/infra/eth/chain.js";
import { deployVesAnchor } from "../src/infra/eth/deployVesAnchor.js";
import { benchCrypto, makeStream, percentile, registerStreams } from "./signedBatches.js";
import { benchTransport, createBenchDatabase, spawnServer } from "./support.js";

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "anchor"),
  options: {
    seconds: { type: "string", default: "30" },
    streams: { type: "string", default: "4" },
    "block-time": { type: "string", default: "1" },
    confirmations: { type: "string", default: "6" },
    interval: { type: "string", default: "5000" },
    "events-per-second": { type: "string", default: "200" },
    "skip-lag": { type: "boolean", default: false },
  },
});

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function chainOf(sizes: readonly number[]): UnsignedCommitment[] {
  const stream = { tenantId: randomUUID(), storeId: randomUUID() };
  const cs: UnsignedCommitment[] = [];
  let seq = 1n;
  for (const n of sizes) {
    const leaves = Array.from({ length: n }, (_, i) => ({
      sequenceNumber: seq + BigInt(i),
      eventSigningHash: new Uint8Array(randomBytes(32)),
      agentSignature: new Uint8Array(randomBytes(64)),
    }));
    cs.push(buildCommitment(nativeSha256, stream, cs.at(-1), leaves));
    seq += BigInt(n);
  }
  return cs;
}

async function gasFigures(): Promise<Record<string, number>> {
  const anvil = await startAnvil();
  try {
    const chain = anchorChain(anvil.chainId, anvil.url);
    const client = anchorPublicClient(chain, anvil.url);
    const wallet = anchorWalletClient(chain, anvil.url, privateKeyToAccount(ANVIL_DEV_KEY));
    const deployed = await deployVesAnchor(wallet, client, [wallet.account.address]);
    const address = deployed.address;
    const send = async (functionName: "anchor" | "anchorMany", arg: unknown): Promise<bigint> => {
      const hash = await wallet.writeContract({
        address,
        abi: vesAnchorAbi,
        functionName,
        args: [arg],
      } as never);
      const r = await client.waitForTransactionReceipt({ hash, pollingInterval: 10 });
      if (r.status !== "success") throw new Error(`${functionName} reverted`);
      return r.gasUsed;
    };
    const figures: Record<string, number> = { deploy: Number(deployed.gasUsed) };
    const [first, second] = chainOf([1024, 1024]) as [UnsignedCommitment, UnsignedCommitment];
    figures.anchor_first_of_stream = Number(await send("anchor", toAnchorInput(first)));
    figures.anchor_next_of_stream = Number(await send("anchor", toAnchorInput(second)));
    for (const n of [1, 8, 32]) {
      // n streams' next commitments (the common case: one new commitment per busy stream per round).
      const streams = Array.from({ length: n }, () => chainOf([1024, 1024]));
      await send(
        "anchorMany",
        streams.map((s) => toAnchorInput(s[0] as UnsignedCommitment)),
      );
      const gas = await send(
        "anchorMany",
        streams.map((s) => toAnchorInput(s[1] as UnsignedCommitment)),
      );
      figures[`anchorMany_${n}_per_commitment`] = Math.round(Number(gas) / n);
    }
    for (const leaves of [2, 16, 1024, 65536]) {
      const [c] = chainOf([leaves]) as [UnsignedCommitment];
      await send("anchor", toAnchorInput(c));
      const i = leaves - 1;
      const data = encodeFunctionData({
        abi: vesAnchorAbi,
        functionName: "verifyInclusion",
        args: [
          uuidToBytes32(c.tenantId),
          uuidToBytes32(c.storeId),
          c.sequenceEnd,
          hex32((c.tree.levels[0] as Uint8Array[])[i] as Uint8Array),
          BigInt(i),
          inclusionProof(c.tree, i).map(hex32),
        ],
      });
      const ok = await client.call({ to: address, data });
      if (ok.data?.endsWith("1") !== true) throw new Error("verifyInclusion returned false");
      figures[`verifyInclusion_depth_${c.treeDepth}`] = Number(
        await client.estimateGas({ to: address, data, account: wallet.account }),
      );
    }
    return figures;
  } finally {
    await anvil.stop();
  }
}

async function lagFigures(): Promise<Record<string, number | string>> {
  const blockTime = Number(args["block-time"]);
  const anvil = await startAnvil({ blockTime });
  const db = await createBenchDatabase("ves_bench_anchor");
  try {
    const chain = anchorChain(anvil.chainId, anvil.url);
    const client = anchorPublicClient(chain, anvil.url);
    const wallet = anchorWalletClient(chain, anvil.url, privateKeyToAccount(ANVIL_DEV_KEY));
    const { address } = await deployVesAnchor(wallet, client, [wallet.account.address]);
    const server = await spawnServer(db.url, {
      ANCHOR_RPC_URL: anvil.url,
      ANCHOR_CHAIN_ID: String(anvil.chainId),
      ANCHOR_CONTRACT_ADDRESS: address,
      ANCHOR_SUBMITTER_KEY: ANVIL_DEV_KEY,
      ANCHOR_CONFIRMATIONS: args.confirmations,
      ANCHOR_INTERVAL_MS: args.interval,
    });
    try {
      const transport = benchTransport(server.url);
      const streams = Array.from({ length: Number(args.streams) }, makeStream);
      await registerStreams(createClient(KeyRegistryService, transport), streams);
      const seq = createClient(SequencerService, transport);
      const seconds = Number(args.seconds);
      const perTick = Math.max(1, Math.round(Number(args["events-per-second"]) / 10 / streams.length));
      process.stderr.write(`appending ${perTick * streams.length * 10} events/s for ${seconds} s\n`);
      const end = Date.now() + seconds * 1000;
      let n = 0;
      while (Date.now() < end) {
        const t = Date.now();
        await Promise.all(
          streams.map((s) =>
            seq.appendBatch({
              batchId: randomUUID(),
              events: Array.from({ length: perTick }, () =>
                signedEventToProto(
                  signEvent(
                    {
                      tenantId: s.tenantId,
                      storeId: s.storeId,
                      sourceAgentId: s.agentId,
                      agentKeyId: 1,
                      entityType: "order",
                      entityId: `order-${n++ % 100}`,
                      eventType: "order.updated",
                      payload: { n },
                    },
                    { sign: s.sign },
                    benchCrypto,
                  ),
                ),
              ),
            }),
          ),
        );
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - t))));
      }
      // Let everything sealed reach finality.
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        const deadline = Date.now() + 120_000;
        for (;;) {
          const [row] = await sql<{ open: number }[]>`
            select count(*)::int as open from commitments c where not exists (
              select 1 from commitment_anchors a where a.commitment_id = c.commitment_id and a.status = 'final')`;
          if ((row?.open ?? 0) === 0 || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        const rows = await sql<{ lag_ms: number; txs: number }[]>`
          select extract(epoch from (a.final_at - c.committed_at)) * 1000 as lag_ms
          from commitments c join commitment_anchors a using (commitment_id) where a.status = 'final'`;
        const [tx] = await sql<{ txs: number; commitments: number }[]>`
          select count(distinct tx_hash)::int as txs, count(*)::int as commitments from commitment_anchors`;
        const lags = rows.map((r) => Number(r.lag_ms)).sort((a, b) => a - b);
        return {
          commitments: tx?.commitments ?? 0,
          transactions: tx?.txs ?? 0,
          lag_p50_ms: Math.round(percentile(lags, 50)),
          lag_p99_ms: Math.round(percentile(lags, 99)),
          lag_max_ms: Math.round(lags.at(-1) ?? Number.NaN),
        };
      } finally {
        await sql.end({ timeout: 1 });
      }
    } finally {
      await server.stop();
    }
  } finally {
    await anvil.stop();
    await db.drop();
  }
}

const settings = {
  blockTimeS: Number(args["block-time"]),
  confirmations: Number(args.confirmations),
  intervalMs: Number(args.interval),
  seconds: Number(args.seconds),
  streams: Number(args.streams),
  eventsPerSecond: Number(args["events-per-second"]),
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}, load ${os.loadavg()[0]?.toFixed(1)}`,
  node: process.version,
};
out(`settings: ${JSON.stringify(settings)}`);
const gas = await gasFigures();
for (const [k, v] of Object.entries(gas)) out(`gas ${k}: ${v}`);
const lag = args["skip-lag"] ? {} : await lagFigures();
for (const [k, v] of Object.entries(lag)) out(`lag ${k}: ${v}`);
out(JSON.stringify({ bench: "anchor", settings, gas, lag }));
