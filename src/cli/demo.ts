// npm run demo: a one-minute tour. Registers an agent key (with proof of possession), streams signed events
// through the bidirectional Append RPC, and verifies every receipt with the SDK, trusting nothing but the
// sequencer's published public key.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { type AppendRequest, SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { proofOfPossession } from "../client/proofOfPossession.js";
import { type SignedEvent, signEvent } from "../client/signEvent.js";
import { signedEventToProto } from "../client/toProto.js";
import { verifyReceipt } from "../client/verifyReceipt.js";
import { bytesToHex } from "../crypto/bytes.js";
import { nobleEd25519 } from "../crypto/ed25519.js";
import { BOOTSTRAP_KEY_FILE } from "../infra/bootstrapAdminKey.js";

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: process.env.SEQUENCER_URL ?? "http://127.0.0.1:50051" },
    events: { type: "string", default: "6" },
    "api-key": { type: "string", default: process.env.VES_API_KEY },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  process.stdout.write(
    [
      "npm run demo [-- --url http://127.0.0.1:50051] [--events 6] [--api-key KEY]",
      "",
      "Against a running sequencer (npm start): generates an agent key, registers it with proof of possession,",
      "streams signed events in two pipelined batches over Append, verifies each receipt (hash and sequencer",
      "signature) with the SDK, replays the first batch to show identical receipts, and prints the head.",
      "SEQUENCER_URL and VES_API_KEY are read from the environment too. Without a key, the development",
      "bootstrap admin key the server generated in DATA_DIR (default .data) is used.",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

/** The key given, else the development bootstrap key `npm start` generated (see infra/bootstrapAdminKey.ts). */
function devKey(): string | undefined {
  try {
    return readFileSync(path.join(process.env.DATA_DIR ?? ".data", BOOTSTRAP_KEY_FILE), "utf8").trim();
  } catch {
    return undefined;
  }
}
const apiKey = args["api-key"] ?? devKey();
const auth: Interceptor = (next) => async (req) => {
  if (apiKey !== undefined && apiKey !== "") req.header.set("authorization", `ApiKey ${apiKey}`);
  return next(req);
};
const transport = createGrpcTransport({ baseUrl: args.url as string, interceptors: [auth] });
const sequencer = createClient(SequencerService, transport);
const keys = createClient(KeyRegistryService, transport);
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

try {
  const info = await sequencer.getSequencerInfo({});
  const current = info.signingKeys.find((k) => k.current) ?? info.signingKeys[0];
  if (current === undefined) throw new Error("the sequencer published no signing key");
  say(`sequencer ${info.sequencerId} (${info.protocolVersion}), receipt key ${current.keyId}`);
  say(`  public key ${bytesToHex(current.publicKey)}`);

  // 1. An agent key: a fresh Ed25519 seed, registered with a proof of possession.
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = nobleEd25519.getPublicKey(seed);
  const signer = { sign: nobleEd25519.createSigner(seed) };
  const agent = { tenantId: randomUUID(), storeId: randomUUID(), agentId: randomUUID(), keyId: 1 };
  await keys.registerAgentKey({
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    keyId: agent.keyId,
    publicKey,
    proofOfPossession: proofOfPossession(publicKey, signer),
  });
  say(`registered agent ${agent.agentId} key ${agent.keyId} in stream ${agent.tenantId}/${agent.storeId}`);

  // 2. Signed events, in two batches sent back to back on one Append stream.
  const n = Math.max(2, Number(args.events));
  const signed: SignedEvent[] = Array.from({ length: n }, (_, i) =>
    signEvent(
      {
        tenantId: agent.tenantId,
        storeId: agent.storeId,
        sourceAgentId: agent.agentId,
        agentKeyId: agent.keyId,
        entityType: "order",
        entityId: `ORD-${1000 + (i % 3)}`,
        eventType: i % 3 === 0 ? "order.created" : "order.updated",
        payload: { orderId: `ORD-${1000 + (i % 3)}`, amount: 100 * (i + 1), currency: "USD" },
      },
      signer,
    ),
  );
  const half = Math.ceil(n / 2);
  const batches: AppendRequest[] = [
    {
      $typeName: "ves.sequencer.v1.AppendRequest",
      receiptUpgrades: false,
      batchId: "demo-1",
      events: signed.slice(0, half).map(signedEventToProto),
    },
    {
      $typeName: "ves.sequencer.v1.AppendRequest",
      receiptUpgrades: false,
      batchId: "demo-2",
      events: signed.slice(half).map(signedEventToProto),
    },
  ];
  async function* requests(): AsyncGenerator<AppendRequest> {
    yield* batches;
  }
  let verified = 0;
  const byId = new Map(signed.map((e) => [e.eventId, e]));
  for await (const res of sequencer.append(requests())) {
    if (res.kind.case !== "batchResult") continue;
    const batch = res.kind.value;
    if (batch.error !== undefined) throw new Error(`batch ${batch.batchId} refused: ${batch.error.message}`);
    say(`batch ${batch.batchId}: ${batch.acceptedCount} accepted, head now ${batch.headSequence}`);
    for (const r of batch.results) {
      if (r.outcome.case !== "receipt") {
        say(`  ${r.eventId} rejected: ${r.outcome.value?.message}`);
        continue;
      }
      const receipt = r.outcome.value;
      const verdict = verifyReceipt(receipt, current.publicKey, {
        expectedSigningHash: byId.get(r.eventId)?.signingHash as Uint8Array,
      });
      if (verdict.valid) verified++;
      say(
        `  #${receipt.sequenceNumber} ${r.eventId} receipt ${bytesToHex(receipt.receiptHash).slice(0, 16)}… ` +
          (verdict.valid ? "verified" : `NOT VALID (${verdict.reason})`),
      );
    }
  }

  // 3. An exact replay returns the stored receipts unchanged.
  const replay = await sequencer.appendBatch({ batchId: "demo-1-again", events: batches[0]?.events ?? [] });
  say(
    `replayed batch demo-1: ${replay.result?.replayedCount} stored receipts returned, nothing new sequenced`,
  );
  const head = await sequencer.getHead({ tenantId: agent.tenantId, storeId: agent.storeId });
  say(
    `head of the stream: ${head.headSequence}; ${verified}/${n} receipts verified against the sequencer key`,
  );
  process.exitCode = verified === n ? 0 : 1;
} catch (err) {
  const e = ConnectError.from(err);
  process.stderr.write(
    e.code === Code.Unavailable
      ? `cannot reach the sequencer at ${args.url}: ${e.rawMessage}\nstart it first with: npm start\n`
      : `demo failed: [${Code[e.code]}] ${e.rawMessage}\n`,
  );
  process.exitCode = 1;
}
