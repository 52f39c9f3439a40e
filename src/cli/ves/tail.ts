// ves tail and ves export: a stream's events, each re-verified by the SDK reader (payload hash, agent signature,
// receipt) before it is printed as one JSON line; tail --follow stays on the live tail.
import { parseArgs } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import {
  PayloadKind,
  type SequencedEvent,
  SequencedEventSchema,
} from "../../../gen/ves/sequencer/v1/event_pb.js";
import { createReader } from "../../client/createReader.js";
import { nodeCrypto } from "../../node/createAgent.js";
import {
  bigintOption,
  COMMON_HELP,
  COMMON_OPTIONS,
  connection,
  EXIT,
  type Io,
  line,
  sequencerKey,
  uuidOption,
} from "./common.js";

export const TAIL_HELP = `ves tail --tenant UUID --store UUID [--from N] [--follow] [--entity-type T [--entity-id ID]]

Prints the stream's events from sequence N (default 1) as JSON lines {sequence, eventId, entityType, entityId,
entityVersion, eventType, createdAt, sourceAgentId, agentKeyId, payload}, each verified first (payload hash,
the agent's signature against the key registry, the sequencer's receipt). Without --follow it stops at the
head; with it, it waits for new events until interrupted. An event that does not verify stops it (exit 5).
Needs read permission (the stream and ListAgentKeys).

  --tenant UUID (VES_TENANT)   --store UUID (VES_STORE)

${COMMON_HELP}`;

export const EXPORT_HELP = `ves export --tenant UUID --store UUID [--from N] [--to N]

Writes the stream's events from N (default 1) to N (default the head) as NDJSON, one SequencedEvent per line in
the protobuf JSON form (the signed event with every signed field, its receipt and entity version), each
verified first like "ves tail". The output is what "ves verify" and other VES tools read.

  --tenant UUID (VES_TENANT)   --store UUID (VES_STORE)

${COMMON_HELP}`;

function summary(se: SequencedEvent): Record<string, unknown> {
  const e = se.event;
  const plain = e?.payloadKind !== PayloadKind.ENCRYPTED;
  return {
    sequence: se.receipt?.sequenceNumber,
    eventId: e?.eventId,
    entityType: e?.entityType,
    entityId: e?.entityId,
    entityVersion: se.entityVersion,
    eventType: e?.eventType,
    createdAt: e?.createdAt,
    sourceAgentId: e?.sourceAgentId,
    agentKeyId: e?.agentKeyId,
    payload: plain ? JSON.parse(new TextDecoder().decode(e?.payload)) : { encrypted: true },
  };
}

async function openReader(values: Record<string, string | boolean | undefined>, io: Io) {
  const tenantId = uuidOption(values.tenant as string | undefined, "--tenant", "VES_TENANT", io);
  const storeId = uuidOption(values.store as string | undefined, "--store", "VES_STORE", io);
  const conn = connection(values as { url?: string; "api-key"?: string }, io);
  const key = await sequencerKey(values["sequencer-key"] as string | undefined, conn, io);
  const c = nodeCrypto();
  return createReader({
    transport: conn.transport,
    ...(conn.credential === undefined ? {} : { credential: conn.credential }),
    tenantId,
    storeId,
    sequencerKey: key,
    sha256: c.sha256,
    ed25519: c.ed25519,
  });
}

export async function tail(args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      tenant: { type: "string" },
      store: { type: "string" },
      from: { type: "string" },
      follow: { type: "boolean", short: "f" },
      "entity-type": { type: "string" },
      "entity-id": { type: "string" },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${TAIL_HELP}\n`);
    return EXIT.ok;
  }
  const from = bigintOption(values.from, "--from", 1n);
  const reader = await openReader(values, io);
  const filter = {
    ...(values["entity-type"] === undefined ? {} : { entityType: values["entity-type"] }),
    ...(values["entity-id"] === undefined ? {} : { entityId: values["entity-id"] }),
  };
  if (values.follow) {
    for await (const se of reader.subscribe({ from, filter, ...(signal === undefined ? {} : { signal }) })) {
      line(io.stdout, summary(se));
    }
    return EXIT.ok;
  }
  let next = from;
  for (;;) {
    const page = await reader.pull({ from: next, limit: 1000, filter });
    for (const se of page.events) line(io.stdout, summary(se));
    next = page.nextSequence;
    if (!page.hasMore) return EXIT.ok;
  }
}

export async function exportEvents(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      tenant: { type: "string" },
      store: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${EXPORT_HELP}\n`);
    return EXIT.ok;
  }
  const from = bigintOption(values.from, "--from", 1n);
  const to = values.to === undefined ? undefined : bigintOption(values.to, "--to", 0n);
  const reader = await openReader(values, io);
  let next = from;
  for (;;) {
    const page = await reader.pull({ from: next, limit: 1000 });
    for (const se of page.events) {
      if (to !== undefined && (se.receipt?.sequenceNumber ?? 0n) > to) return EXIT.ok;
      io.stdout.write(`${JSON.stringify(toJson(SequencedEventSchema, se))}\n`);
    }
    next = page.nextSequence;
    if (!page.hasMore || (to !== undefined && next > to)) return EXIT.ok;
  }
}
