// npm run demo: a one-minute tour. Registers an agent key (with proof of possession), streams signed events
// through the bidirectional Append RPC, verifies every receipt with the SDK (trusting nothing but the
// sequencer's published public key), then waits for the events to be sealed and verifies an inclusion proof
// and its signed checkpoint; when the server anchors, waits for that commitment's anchor to be final and checks
// it against the chain with the SDK (verifyAnchor, verifyReceipt with the anchor). Exits 0 when everything verified, 1 on any failure, 2 on a usage error.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createPublicClient, http } from "viem";
import { AnchorService, AnchorState } from "../../gen/ves/sequencer/v1/anchor_pb.js";
import { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../../gen/ves/sequencer/v1/proof_pb.js";
import { type AppendRequest, SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { proofOfPossession } from "../client/proofOfPossession.js";
import { type SignedEvent, signEvent } from "../client/signEvent.js";
import { signedEventToProto } from "../client/toProto.js";
import { verifyAnchor } from "../client/verifyAnchor.js";
import { verifyReceipt } from "../client/verifyReceipt.js";
import { bytesToHex } from "../crypto/bytes.js";
import { nobleEd25519 } from "../crypto/ed25519.js";
import { hex32 } from "../domain/anchor.js";
import { BOOTSTRAP_KEY_FILE } from "../infra/bootstrapAdminKey.js";
import { DEV_ANVIL_URL_FILE } from "../infra/eth/anvil.js";
import { defaultSequencerUrl } from "./sequencerUrl.js";

const USAGE = `npm run demo [-- options]

Against a running sequencer (npm start): generates an agent key, registers it with proof of possession, streams
signed events in two pipelined batches over Append, verifies each receipt (hash and sequencer signature) with
the SDK, replays the first batch to show identical receipts, then waits until the events are sealed into a
commitment and verifies the last event's inclusion proof and the commitment's signed checkpoint. When the server
anchors (ANCHOR_DEV_ANVIL=true or ANCHOR_RPC_URL), it then waits until that commitment's anchor is final and
checks it on the chain with the SDK: the event proven down to a block. Otherwise it says anchoring is off.

  --url URL         the sequencer (default: SEQUENCER_URL, else http://127.0.0.1:PORT, PORT default 50051)
  --events N        how many events, 2..2 x the server's max_events_per_batch (default 6)
  --tenant UUID     the tenant to write to (default: a new random one)
  --store UUID      the store (stream) within the tenant (default: a new random one)
  --api-key KEY     an admin credential for the tenant (default: VES_API_KEY, else the development bootstrap
                    admin key the server generated in DATA_DIR/${BOOTSTRAP_KEY_FILE}, DATA_DIR default .data)
  --proof-timeout-ms N  how long to wait for the events to be sealed (default 15000)
  --chain-rpc URL   the anchor chain's JSON-RPC URL, read by the SDK (default: ANCHOR_RPC_URL, else the
                    ANCHOR_DEV_ANVIL chain's URL the server wrote to DATA_DIR/${DEV_ANVIL_URL_FILE})
  --anchor-timeout-ms N  how long to wait for the anchor to be final (default 60000)
  -h, --help        this text

Exit status: 0 when every receipt and the proof verified, 1 on any failure (the server's error code is
printed, e.g. [invalid_argument]), 2 on a bad option.
`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class UsageError extends Error {}

/** A failure to report with the server's own error code (e.g. "invalid_argument"). */
class DemoFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function finish(code: number): never {
  // Exits at once: an open HTTP/2 session or a stream the server refused must not keep the process alive.
  process.exit(code);
}

/** "invalid_argument" for Code.InvalidArgument: the names connect and BatchError.code use. */
function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

interface Options {
  readonly url: string;
  readonly events: number;
  readonly tenantId: string;
  readonly storeId: string;
  readonly apiKey: string | undefined;
  readonly proofTimeoutMs: number;
  readonly chainRpc: string | undefined;
  readonly anchorTimeoutMs: number;
}

function readOptions(): Options {
  const { values } = parseArgs({
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: "string", default: defaultSequencerUrl() },
      events: { type: "string", default: "6" },
      tenant: { type: "string" },
      store: { type: "string" },
      "api-key": { type: "string", default: process.env.VES_API_KEY },
      "proof-timeout-ms": { type: "string", default: "15000" },
      "chain-rpc": { type: "string" },
      "anchor-timeout-ms": { type: "string", default: "60000" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    finish(0);
  }
  const url = values.url as string;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new UsageError(`--url expected an http:// or https:// URL, got "${url}"`);
  }
  const integer = (name: string, text: string, min: number): number => {
    if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
      throw new UsageError(`--${name} expected an integer >= ${min}, got "${text}"`);
    }
    return Number(text);
  };
  const uuid = (name: string, text: string | undefined): string => {
    if (text === undefined) return randomUUID();
    if (!UUID.test(text)) throw new UsageError(`--${name} expected a UUID, got "${text}"`);
    return text.toLowerCase();
  };
  return {
    url,
    events: integer("events", values.events as string, 2),
    tenantId: uuid("tenant", values.tenant),
    storeId: uuid("store", values.store),
    apiKey: values["api-key"] ?? devKey(),
    proofTimeoutMs: integer("proof-timeout-ms", values["proof-timeout-ms"] as string, 0),
    chainRpc: chainRpc(values["chain-rpc"]),
    anchorTimeoutMs: integer("anchor-timeout-ms", values["anchor-timeout-ms"] as string, 0),
  };
}

function chainRpc(given: string | undefined): string | undefined {
  let url = given ?? (process.env.ANCHOR_RPC_URL === "" ? undefined : process.env.ANCHOR_RPC_URL);
  if (url === undefined) {
    try {
      url = readFileSync(path.join(process.env.DATA_DIR ?? ".data", DEV_ANVIL_URL_FILE), "utf8").trim();
    } catch {
      return undefined;
    }
  }
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new UsageError(`--chain-rpc expected an http:// or https:// URL, got "${url}"`);
  }
  return url;
}

/** The development bootstrap key `npm start` generated (see infra/bootstrapAdminKey.ts), if there is one. */
function devKey(): string | undefined {
  try {
    return readFileSync(path.join(process.env.DATA_DIR ?? ".data", BOOTSTRAP_KEY_FILE), "utf8").trim();
  } catch {
    return undefined;
  }
}

async function demo(opts: Options): Promise<boolean> {
  const auth: Interceptor = (next) => async (req) => {
    if (opts.apiKey !== undefined && opts.apiKey !== "")
      req.header.set("authorization", `ApiKey ${opts.apiKey}`);
    return next(req);
  };
  const transport = createGrpcTransport({ baseUrl: opts.url, interceptors: [auth] });
  const sequencer = createClient(SequencerService, transport);
  const keys = createClient(KeyRegistryService, transport);
  const proofs = createClient(ProofService, transport);

  const info = await sequencer.getSequencerInfo({});
  const current = info.signingKeys.find((k) => k.current) ?? info.signingKeys[0];
  if (current === undefined)
    throw new DemoFailure("failed_precondition", "the sequencer published no signing key");
  const maxEvents = 2 * (info.limits?.maxEventsPerBatch ?? 0);
  if (opts.events > maxEvents) {
    throw new UsageError(
      `--events expected at most ${maxEvents} (two batches of the server's max_events_per_batch ` +
        `${info.limits?.maxEventsPerBatch}), got ${opts.events}`,
    );
  }
  say(`sequencer ${info.sequencerId} (${info.protocolVersion}), receipt key ${current.keyId}`);
  say(`  public key ${bytesToHex(current.publicKey)}`);

  // 1. An agent key: a fresh Ed25519 seed, registered with a proof of possession.
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = nobleEd25519.getPublicKey(seed);
  const signer = { sign: nobleEd25519.createSigner(seed) };
  const agent = { tenantId: opts.tenantId, storeId: opts.storeId, agentId: randomUUID(), keyId: 1 };
  await keys.registerAgentKey({
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    keyId: agent.keyId,
    publicKey,
    proofOfPossession: proofOfPossession(publicKey, signer),
  });
  say(`tenant ${agent.tenantId}, store ${agent.storeId}`);
  say(`registered agent ${agent.agentId} key ${agent.keyId}`);

  // 2. Signed events, in two batches sent back to back on one Append stream.
  const n = opts.events;
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
      anchorUpgrades: false,
      batchId: "demo-1",
      events: signed.slice(0, half).map(signedEventToProto),
    },
    {
      $typeName: "ves.sequencer.v1.AppendRequest",
      receiptUpgrades: false,
      anchorUpgrades: false,
      batchId: "demo-2",
      events: signed.slice(half).map(signedEventToProto),
    },
  ];
  async function* requests(): AsyncGenerator<AppendRequest> {
    yield* batches;
  }
  let verified = 0;
  let last: { sequenceNumber: bigint; eventId: string } | undefined;
  const byId = new Map(signed.map((e) => [e.eventId, e]));
  for await (const res of sequencer.append(requests())) {
    if (res.kind.case !== "batchResult") continue;
    const batch = res.kind.value;
    if (batch.error !== undefined) {
      const field = batch.error.field === "" ? "" : ` (field ${batch.error.field})`;
      throw new DemoFailure(
        batch.error.code,
        `batch ${batch.batchId} refused: ${batch.error.message}${field}`,
      );
    }
    say(`batch ${batch.batchId}: ${batch.acceptedCount} accepted, head now ${batch.headSequence}`);
    for (const r of batch.results) {
      if (r.outcome.case !== "receipt") {
        say(`  ${r.eventId} rejected: [${r.outcome.value?.reason}] ${r.outcome.value?.message}`);
        continue;
      }
      const receipt = r.outcome.value;
      const verdict = verifyReceipt(receipt, current.publicKey, {
        expectedSigningHash: byId.get(r.eventId)?.signingHash as Uint8Array,
      });
      if (verdict.valid) verified++;
      last = { sequenceNumber: receipt.sequenceNumber, eventId: r.eventId };
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
  if (last === undefined) throw new DemoFailure("failed_precondition", "no event was accepted");

  // 4. Once sealed, the last event's inclusion proof leads to a commitment the sequencer signed.
  const deadline = Date.now() + opts.proofTimeoutMs;
  for (;;) {
    try {
      const { proof, commitment, receipt } = await proofs.getInclusionProof({
        tenantId: agent.tenantId,
        storeId: agent.storeId,
        selector: { case: "eventId", value: last.eventId },
      });
      if (proof === undefined || commitment === undefined || receipt === undefined) {
        throw new DemoFailure(
          "internal",
          "GetInclusionProof answered without a proof, commitment or receipt",
        );
      }
      const sealed = verifyReceipt(receipt, current.publicKey, {
        upgrade: { proof, checkpoint: commitment },
      });
      say(
        `event #${last.sequenceNumber} is in commitment ${commitment.commitmentId} ` +
          `(events ${commitment.sequenceStart}..${commitment.sequenceEnd}, merkle root ${bytesToHex(commitment.merkleRoot).slice(0, 16)}…): ` +
          (sealed.valid ? "inclusion proof and signed checkpoint verified" : `NOT VALID (${sealed.reason})`),
      );
      const anchored = await demoAnchor(opts, transport, agent, last, {
        receipt,
        proof,
        checkpoint: commitment,
        key: current.publicKey,
      });
      return verified === n && sealed.valid && anchored;
    } catch (err) {
      const e = err instanceof DemoFailure ? undefined : ConnectError.from(err);
      if (e?.code !== Code.FailedPrecondition || Date.now() >= deadline) {
        if (e?.code === Code.FailedPrecondition) {
          throw new DemoFailure(
            "deadline_exceeded",
            `event #${last.sequenceNumber} was not sealed within ${opts.proofTimeoutMs} ms (is COMMIT_WORKER off?)`,
          );
        }
        throw err;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * 5. When the server anchors: waits until the commitment is final on the chain, then checks it there with the
 * SDK. True when it verified, or when the server does not anchor (said so).
 */
async function demoAnchor(
  opts: Options,
  transport: ReturnType<typeof createGrpcTransport>,
  stream: { tenantId: string; storeId: string },
  last: { sequenceNumber: bigint; eventId: string },
  sealed: {
    receipt: Parameters<typeof verifyReceipt>[0];
    proof: Parameters<typeof verifyReceipt>[2]["upgrade"]["proof"];
    checkpoint: Parameters<typeof verifyReceipt>[2]["upgrade"]["checkpoint"];
    key: Uint8Array;
  },
): Promise<boolean> {
  const anchors = createClient(AnchorService, transport);
  const selector = { selector: { case: "eventId" as const, value: last.eventId } };
  const deadline = Date.now() + opts.anchorTimeoutMs;
  let said = false;
  for (;;) {
    let status: Awaited<ReturnType<typeof anchors.getAnchorStatus>>;
    try {
      status = await anchors.getAnchorStatus({ ...stream, selector });
    } catch (err) {
      if (ConnectError.from(err).code !== Code.FailedPrecondition) throw err;
      say(
        "anchoring is off on this server (start it with ANCHOR_DEV_ANVIL=true to see the event proven down to a block)",
      );
      return true;
    }
    const target = status.target;
    if (status.state === AnchorState.FINAL && target !== undefined) {
      const address = hex32(target.contractAddress);
      say(
        `event #${last.sequenceNumber} is anchored in block ${status.blockNumber} (${hex32(status.blockHash)}) ` +
          `on chain ${target.chainId}, contract ${address}, tx ${hex32(status.txHash)}`,
      );
      if (opts.chainRpc === undefined) {
        throw new DemoFailure(
          "failed_precondition",
          "the server anchors but no chain URL is known to check it: pass --chain-rpc or set ANCHOR_RPC_URL",
        );
      }
      const client = createPublicClient({ transport: http(opts.chainRpc) });
      const chainId = await client.getChainId();
      if (BigInt(chainId) !== target.chainId) {
        throw new DemoFailure(
          "failed_precondition",
          `the chain at --chain-rpc has id ${chainId}, the server anchors on ${target.chainId}`,
        );
      }
      const commitment = status.commitment ?? sealed.checkpoint;
      const v = await verifyAnchor(commitment, { client, address, confirmations: target.confirmations });
      const whole = await verifyReceipt(sealed.receipt, sealed.key, {
        upgrade: { proof: sealed.proof, checkpoint: sealed.checkpoint },
        anchor: { client, address, blockNumber: status.blockNumber, confirmations: target.confirmations },
      });
      say(
        v.valid
          ? `  verifyAnchor passed: the contract holds commitment ${commitment.sequenceStart}..${commitment.sequenceEnd} ` +
              `with the same roots, ${v.depth} blocks deep (final at ${target.confirmations})`
          : `  verifyAnchor FAILED (${v.reason}): ${v.message}`,
      );
      say(
        whole.valid
          ? `  receipt → inclusion proof → signed checkpoint → anchor in block ${whole.blockNumber}: verified`
          : `  receipt → anchor NOT VALID (${whole.reason}): ${whole.message}`,
      );
      return v.valid && v.final && whole.valid;
    }
    if (Date.now() >= deadline) {
      throw new DemoFailure(
        "deadline_exceeded",
        `the anchor of event #${last.sequenceNumber} was not final within ${opts.anchorTimeoutMs} ms ` +
          `(state ${AnchorState[status.state]}${status.lastFailure === undefined ? "" : `, last failure: ${status.lastFailure.message}`})`,
      );
    }
    if (!said) {
      say(`waiting for the anchor of commitment ${status.commitment?.commitmentId} to be final on chain…`);
      said = true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

let options: Options;
try {
  options = readOptions();
} catch (err) {
  process.stderr.write(`demo: ${(err as Error).message}\n(npm run demo -- --help lists the options)\n`);
  finish(2);
}
try {
  finish((await demo(options)) ? 0 : 1);
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`demo: ${err.message}\n`);
    finish(2);
  }
  if (err instanceof DemoFailure) {
    process.stderr.write(`demo failed: [${err.code}] ${err.message}\n`);
    finish(1);
  }
  const e = ConnectError.from(err);
  process.stderr.write(
    e.code === Code.Unavailable
      ? `cannot reach the sequencer at ${options.url}: [unavailable] ${e.rawMessage}\nstart it first with: npm start\n`
      : `demo failed: [${codeName(e.code)}] ${e.rawMessage}\n`,
  );
  finish(1);
}
