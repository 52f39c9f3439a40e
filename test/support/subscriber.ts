// A test subscriber: follows a stream through Subscribe and records what it received.

import type { Client } from "@connectrpc/connect";
import type { SequencedEvent } from "../../gen/ves/sequencer/v1/event_pb.js";
import type { SequencerService, SubscribeRequest } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { TEST_ADMIN_KEY } from "./sequencer.js";

export interface Received {
  readonly sequences: bigint[];
  readonly events: SequencedEvent[];
  heartbeats: number;
  lastHead: bigint;
  nextSequence: bigint;
}

export interface FollowOptions {
  /** Stop once an event with this sequence number (or a cursor past it) was received. */
  readonly until: bigint;
  /** Keep the events themselves (for verification), not only their sequence numbers. */
  readonly keepEvents?: boolean;
  /** Called after every message; awaiting it slows the subscriber down. */
  readonly onMessage?: (r: Received) => Promise<void> | void;
  readonly signal?: AbortSignal;
}

type SubscribeInit = Partial<Omit<SubscribeRequest, "$typeName" | "filter">> & {
  tenantId: string;
  storeId: string;
  filter?: { entityType?: string; entityId?: string; eventTypes?: string[]; sourceAgentIds?: string[] };
};

/** Subscribes and reads until `until`; rejects with the stream's error if it ends early. */
export async function follow(
  client: Client<typeof SequencerService>,
  req: SubscribeInit,
  opts: FollowOptions,
  into: Received = { sequences: [], events: [], heartbeats: 0, lastHead: 0n, nextSequence: 0n },
): Promise<Received> {
  const abort = new AbortController();
  const signal = opts.signal === undefined ? abort.signal : AbortSignal.any([abort.signal, opts.signal]);
  try {
    for await (const res of client.subscribe(req, { signal })) {
      if (res.kind.case === "events") {
        for (const e of res.kind.value.events) {
          into.sequences.push(e.receipt?.sequenceNumber ?? -1n);
          if (opts.keepEvents) into.events.push(e);
        }
        into.nextSequence = res.kind.value.nextSequence;
      } else if (res.kind.case === "heartbeat") {
        into.heartbeats++;
        into.lastHead = res.kind.value.headSequence;
        into.nextSequence = res.kind.value.nextSequence;
      }
      await opts.onMessage?.(into);
      if (into.nextSequence > opts.until) return into;
    }
    throw new Error(`the subscription ended at ${into.nextSequence}, before ${opts.until}`);
  } finally {
    abort.abort();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A gauge or counter from the server's /metrics (no keep-alive, so the server's shutdown is not held up). */
export async function metric(url: string, name: string): Promise<number> {
  const { get } = await import("node:http");
  const text = await new Promise<string>((resolve, reject) => {
    get(`${url}/metrics`, { agent: false, headers: { "x-api-key": TEST_ADMIN_KEY } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}
