// Agent SDK: reading a stream without trusting the server. Every delivered event is re-verified (payload hash,
// agent signature against the key registry through a TTL cache, the sequencer's receipt; ves-protocol.md §2.2-
// §2.4) and in sequence order; an event that does not verify is refused with an AgentError, never delivered.
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import type { SequencedEvent } from "../../gen/ves/sequencer/v1/event_pb.js";
import { type EventFilter, SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { type Ed25519, nobleEd25519 } from "../crypto/ed25519.js";
import { nobleSha256, type Sha256 } from "../crypto/sha256.js";
import { AgentError } from "./agentError.js";
import { type AgentKeyCache, createAgentKeyCache } from "./createAgentKeyCache.js";
import { verifySequencedEvent } from "./verifySequencedEvent.js";

export interface CreateReaderOptions {
  readonly transport: Transport;
  /** An API key (`ves_…`) or `Bearer <JWT>` with read permission on the stream (and ListAgentKeys). */
  readonly credential?: string;
  readonly tenantId: string;
  readonly storeId: string;
  /** The sequencer's receipt-signing key(s), pinned out of band. */
  readonly sequencerKey: Uint8Array | readonly Uint8Array[];
  /** Agent keys: default a cache over the server's key registry with `keyTtlMs` (default 60,000 ms). */
  readonly agentKeys?: AgentKeyCache;
  readonly keyTtlMs?: number;
  readonly sha256?: Sha256;
  readonly ed25519?: Ed25519;
}

export interface PullOptions {
  /** First sequence number (default 1). */
  readonly from?: bigint;
  /** 1..1000 (default 100). */
  readonly limit?: number;
  readonly filter?: Partial<Pick<EventFilter, "entityType" | "entityId" | "eventTypes" | "sourceAgentIds">>;
}

export interface PullPage {
  readonly events: SequencedEvent[];
  readonly nextSequence: bigint;
  readonly hasMore: boolean;
  readonly headSequence: bigint;
}

export interface SubscribeOptions extends Omit<PullOptions, "limit"> {
  readonly signal?: AbortSignal;
  /** Heartbeat interval asked of the server (ms). */
  readonly heartbeatMs?: number;
}

export interface Reader {
  /** One page of verified events. */
  pull(opts?: PullOptions): Promise<PullPage>;
  /** Verified events from `from`, then live; ends when `signal` aborts; throws AgentError on a bad event. */
  subscribe(opts?: SubscribeOptions): AsyncIterable<SequencedEvent>;
}

export function createReader(opts: CreateReaderOptions): Reader {
  const headers: Record<string, string> =
    opts.credential === undefined || opts.credential === ""
      ? {}
      : {
          authorization: /^(Bearer|ApiKey) /.test(opts.credential)
            ? opts.credential
            : `ApiKey ${opts.credential}`,
        };
  const client = createClient(SequencerService, opts.transport);
  const agentKeys =
    opts.agentKeys ??
    createAgentKeyCache({
      transport: opts.transport,
      headers,
      ...(opts.keyTtlMs === undefined ? {} : { ttlMs: opts.keyTtlMs }),
    });
  const sequencerKeys: readonly Uint8Array[] =
    opts.sequencerKey instanceof Uint8Array ? [opts.sequencerKey] : [...opts.sequencerKey];
  const sha256 = opts.sha256 ?? nobleSha256;
  const ed25519 = opts.ed25519 ?? nobleEd25519;

  async function check(se: SequencedEvent, after: bigint): Promise<void> {
    const e = se.event;
    const seq = se.receipt?.sequenceNumber ?? 0n;
    const fail = (code: string, message: string): never => {
      throw new AgentError("bad_event", `event ${e?.eventId ?? "?"} (#${seq}) refused: ${message}`, {
        eventId: e?.eventId,
        code,
      });
    };
    if (e === undefined || se.receipt === undefined) fail("incomplete", "no event or no receipt");
    const ev = e as NonNullable<typeof e>;
    if (ev.tenantId !== opts.tenantId || ev.storeId !== opts.storeId) {
      fail("wrong_stream", `it belongs to ${ev.tenantId}/${ev.storeId}`);
    }
    if (seq <= after) fail("out_of_order", `sequence number ${seq} after ${after}`);
    const agentKey = await agentKeys.get(ev.tenantId, ev.sourceAgentId, ev.agentKeyId);
    if (agentKey === undefined) {
      fail("unknown_key", `agent ${ev.sourceAgentId} key ${ev.agentKeyId} is not in the key registry`);
    }
    let reason = "bad_receipt";
    for (const key of sequencerKeys) {
      let v: ReturnType<typeof verifySequencedEvent>;
      try {
        v = verifySequencedEvent(se, {
          agentPublicKey: agentKey as Uint8Array,
          sequencerPublicKey: key,
          sha256,
          ed25519,
        });
      } catch (err) {
        return fail("malformed", (err as Error).message);
      }
      if (v.valid) return;
      reason = v.reason;
      if (reason !== "bad_receipt") break; // only the receipt depends on which sequencer key
    }
    fail(reason, reason.replaceAll("_", " "));
  }

  const filterOf = (f: PullOptions["filter"]) => ({
    entityType: f?.entityType ?? "",
    entityId: f?.entityId ?? "",
    eventTypes: f?.eventTypes ?? [],
    sourceAgentIds: f?.sourceAgentIds ?? [],
  });

  return {
    async pull(p = {}) {
      const res = await client.pullEvents(
        {
          tenantId: opts.tenantId,
          storeId: opts.storeId,
          fromSequence: p.from ?? 1n,
          limit: p.limit ?? 100,
          filter: filterOf(p.filter),
        },
        { headers },
      );
      let after = (p.from ?? 1n) - 1n;
      for (const se of res.events) {
        await check(se, after);
        after = se.receipt?.sequenceNumber ?? after;
      }
      return {
        events: res.events,
        nextSequence: res.nextSequence,
        hasMore: res.hasMore,
        headSequence: res.headSequence,
      };
    },
    async *subscribe(s = {}) {
      let after = (s.from ?? 1n) - 1n;
      try {
        const stream = client.subscribe(
          {
            tenantId: opts.tenantId,
            storeId: opts.storeId,
            fromSequence: s.from ?? 1n,
            filter: filterOf(s.filter),
            ...(s.heartbeatMs === undefined ? {} : { heartbeatIntervalMs: s.heartbeatMs }),
          },
          { headers, ...(s.signal === undefined ? {} : { signal: s.signal }) },
        );
        for await (const msg of stream) {
          if (msg.kind.case !== "events") continue;
          for (const se of msg.kind.value.events) {
            await check(se, after);
            after = se.receipt?.sequenceNumber ?? after;
            yield se;
          }
        }
      } catch (err) {
        if (err instanceof AgentError) throw err;
        const ce = ConnectError.from(err);
        if (ce.code === Code.Canceled && s.signal?.aborted) return;
        throw ce;
      }
    },
  };
}
