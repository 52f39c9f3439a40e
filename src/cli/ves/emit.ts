// ves emit: sign events and append them through the producer (batched, pipelined, every receipt verified), from
// flags (one event) or NDJSON (a file or stdin, one event per line), with progress on a terminal.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { AgentError } from "../../client/agentError.js";
import type { AgentEvent, AppendResult } from "../../client/createAgent.js";
import { createAgent, signerFromSeed } from "../../node/createAgent.js";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  connection,
  EXIT,
  type Io,
  intOption,
  line,
  readKeyFile,
  report,
  required,
  sequencerKey,
  UsageError,
  uuidOption,
} from "./common.js";

export const EMIT_HELP = `ves emit [event flags | --file FILE | --file -] [options]

Signs events with the agent's key and appends them; every receipt is verified against the sequencer key
before it is reported. One event from flags, or NDJSON from --file (or stdin when no event flags are given and
stdin is not a terminal), one object per line:
  {"entityType":"order","entityId":"o-1","eventType":"order.created","payload":{...},
   "eventId"?:UUID,"createdAt"?:RFC3339,"commandId"?:UUID,"baseVersion"?:N}
Prints one JSON line per event in input order: {"line","eventId","sequence","replayed"} or
{"line","eventId"?,"error","reason","message"}; on a terminal, a progress line on stderr instead.

Event flags:
  --entity-type T  --entity-id ID  --event-type T  --payload JSON  [--command-id UUID] [--base-version N]
Agent (flags or environment):
  --tenant UUID (VES_TENANT)  --store UUID (VES_STORE)  --agent UUID (VES_AGENT)
  --key-id N (VES_KEY_ID)     --key-file FILE (VES_KEY_FILE, from "ves keygen")
Producer:
  --batch-size N (500)  --linger-ms N (5)  --max-in-flight N (4)
  --give-up-after-ms N  stop retrying an unreachable sequencer after this long (default 30000)

Exit: 0 all appended, 1 some rejected, 5 a receipt did not verify, 3 unreachable, 4 credential refused.

${COMMON_HELP}`;

function parseEvent(text: string, where: string): AgentEvent {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${where}: not JSON: ${(err as Error).message}`);
  }
  if (o === null || typeof o !== "object" || Array.isArray(o))
    throw new UsageError(`${where}: expected an object`);
  for (const f of ["entityType", "entityId", "eventType"]) {
    if (typeof o[f] !== "string")
      throw new UsageError(`${where}: "${f}" expected a string, got ${JSON.stringify(o[f])}`);
  }
  if (o.payload === undefined || o.payload === null) throw new UsageError(`${where}: "payload" is required`);
  for (const f of ["eventId", "createdAt", "commandId"]) {
    if (o[f] !== undefined && typeof o[f] !== "string")
      throw new UsageError(`${where}: "${f}" expected a string`);
  }
  const bv = o.baseVersion;
  if (
    bv !== undefined &&
    !(typeof bv === "number" && Number.isSafeInteger(bv) && bv >= 0) &&
    !(typeof bv === "string" && /^\d+$/.test(bv))
  ) {
    throw new UsageError(
      `${where}: "baseVersion" expected a non-negative integer, got ${JSON.stringify(bv)}`,
    );
  }
  return {
    entityType: o.entityType as string,
    entityId: o.entityId as string,
    eventType: o.eventType as string,
    payload: o.payload,
    ...(o.eventId === undefined ? {} : { eventId: o.eventId as string }),
    ...(o.createdAt === undefined ? {} : { createdAt: o.createdAt as string }),
    ...(o.commandId === undefined ? {} : { commandId: o.commandId as string }),
    ...(bv === undefined ? {} : { baseVersion: BigInt(bv as number | string) }),
  };
}

export async function emit(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      tenant: { type: "string" },
      store: { type: "string" },
      agent: { type: "string" },
      "key-id": { type: "string" },
      "key-file": { type: "string" },
      file: { type: "string" },
      "entity-type": { type: "string" },
      "entity-id": { type: "string" },
      "event-type": { type: "string" },
      payload: { type: "string" },
      "command-id": { type: "string" },
      "base-version": { type: "string" },
      "batch-size": { type: "string" },
      "linger-ms": { type: "string" },
      "max-in-flight": { type: "string" },
      "give-up-after-ms": { type: "string" },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${EMIT_HELP}\n`);
    return EXIT.ok;
  }
  const fromFlags = values["entity-type"] !== undefined || values.payload !== undefined;
  if (fromFlags && values.file !== undefined)
    throw new UsageError("give either event flags or --file, not both");
  const single = fromFlags
    ? parseEvent(
        JSON.stringify({
          entityType: required(values["entity-type"], "--entity-type"),
          entityId: required(values["entity-id"], "--entity-id"),
          eventType: required(values["event-type"], "--event-type"),
          payload: (() => {
            try {
              return JSON.parse(required(values.payload, "--payload"));
            } catch {
              throw new UsageError(`--payload expected JSON, got "${values.payload}"`);
            }
          })(),
          commandId: values["command-id"],
          baseVersion: values["base-version"],
        }),
        "flags",
      )
    : undefined;
  if (single === undefined && values.file === undefined && io.stdin.isTTY) {
    throw new UsageError("no events: give event flags, --file FILE, or NDJSON on stdin");
  }
  const tenantId = uuidOption(values.tenant, "--tenant", "VES_TENANT", io);
  const storeId = uuidOption(values.store, "--store", "VES_STORE", io);
  const sourceAgentId = uuidOption(values.agent, "--agent", "VES_AGENT", io);
  const agentKeyId = intOption(values["key-id"] ?? io.env.VES_KEY_ID, "--key-id", 1, 2 ** 32 - 1);
  const key = readKeyFile(required(values["key-file"], "--key-file", "VES_KEY_FILE", io));
  const conn = connection(values, io);
  const pinned = await sequencerKey(values["sequencer-key"], conn, io);
  const agent = createAgent({
    transport: conn.transport,
    ...(conn.credential === undefined ? {} : { credential: conn.credential }),
    signer: signerFromSeed(key.seed),
    tenantId,
    storeId,
    sourceAgentId,
    agentKeyId,
    sequencerKey: pinned,
    batchSize: intOption(values["batch-size"], "--batch-size", 1, 1000, 500),
    lingerMs: intOption(values["linger-ms"], "--linger-ms", 0, 60_000, 5),
    maxInFlight: intOption(values["max-in-flight"], "--max-in-flight", 1, 64, 4),
    reconnect: {
      giveUpAfterMs: intOption(values["give-up-after-ms"], "--give-up-after-ms", 0, 2 ** 31, 30_000),
    },
  });

  const tty = io.stderr.isTTY === true && io.stdout.isTTY === true;
  const counts = { ok: 0, rejected: 0, untrusted: 0, read: 0 };
  let fatal: unknown;
  const started = Date.now();
  let lastDraw = 0;
  const draw = (force = false): void => {
    if (!tty) return;
    const t = Date.now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    const rate = Math.round(((counts.ok + counts.rejected) * 1000) / Math.max(1, t - started));
    const done = counts.ok + counts.rejected + counts.untrusted;
    const width = 30;
    const filled = counts.read === 0 ? 0 : Math.round((done / counts.read) * width);
    io.stderr.write(
      `\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${counts.read} appended ${counts.ok}, rejected ${counts.rejected}, ${rate}/s `,
    );
  };
  // Output in input order: each result waits for the previous one.
  let previous: Promise<void> = Promise.resolve();
  const submit = async (n: number, ev: AgentEvent): Promise<void> => {
    await agent.ready();
    const result = agent.append(ev);
    const before = previous;
    previous = (async () => {
      let r: AppendResult | undefined;
      let e: unknown;
      try {
        r = await result;
      } catch (err) {
        e = err;
      }
      await before;
      if (r !== undefined) {
        counts.ok++;
        if (!tty)
          line(io.stdout, {
            line: n,
            eventId: r.event.eventId,
            sequence: r.receipt.sequenceNumber,
            replayed: r.replayed,
          });
      } else if (
        e instanceof AgentError &&
        (e.reason === "rejected" || e.reason === "batch_refused" || e.reason === "bad_receipt")
      ) {
        if (e.reason === "bad_receipt") counts.untrusted++;
        else counts.rejected++;
        line(tty ? io.stderr : io.stdout, {
          line: n,
          eventId: e.eventId,
          error: e.reason,
          reason: e.rejection ?? e.code,
          message: e.message,
        });
      } else {
        fatal ??= e;
      }
      draw();
    })();
  };

  try {
    if (single !== undefined) {
      counts.read = 1;
      await submit(1, single);
    } else {
      const input =
        values.file === undefined || values.file === "-" ? io.stdin : createReadStream(values.file);
      const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
      let n = 0;
      for await (const text of lines) {
        n++;
        if (text.trim() === "") continue;
        if (fatal !== undefined) break;
        let ev: AgentEvent;
        try {
          ev = parseEvent(text, `line ${n}`);
        } catch (err) {
          counts.read++;
          counts.rejected++;
          const bad = { line: n, error: "invalid_argument", message: (err as Error).message };
          previous = previous.then(() => line(tty ? io.stderr : io.stdout, bad));
          continue;
        }
        counts.read++;
        await submit(n, ev);
      }
    }
    await agent.flush().catch(() => {});
    await previous;
  } finally {
    await agent.close().catch(() => {});
  }
  draw(true);
  if (tty)
    io.stderr.write(
      `\n${counts.ok} appended, ${counts.rejected} rejected, ${counts.untrusted} unverified receipts\n`,
    );
  if (fatal !== undefined) return report(fatal, io);
  if (counts.untrusted > 0) return EXIT.untrusted;
  return counts.rejected > 0 ? EXIT.failed : EXIT.ok;
}
