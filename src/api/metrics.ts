// Prometheus metrics of the sequencer, served at GET /metrics: Node.js's standard process metrics under their usual
// names (process_cpu_seconds_total, nodejs_heap_size_used_bytes...), so stock dashboards work, and the product's
// own metrics, every one prefixed ves_.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BatchOutcome } from "../app/appendBatch.js";
import type { Commitment } from "../domain/commitment.js";

export interface Metrics {
  readonly registry: Registry;
  recordBatch(outcome: BatchOutcome, ms: number): void;
  /** A commitment this instance sealed: `lagMs` from its oldest event's sequencing, `ms` to seal it. */
  recordSeal(commitment: Commitment, lagMs: number | undefined, ms: number): void;
  readonly sealErrors: Counter;
  readonly receiptUpgrades: Counter;
  readonly rpcs: Counter<"method" | "code">;
  readonly openStreams: Gauge;
  /** Live subscriptions (Subscribe and sync Append streams) on this instance. */
  readonly subscribers: Gauge;
  /** Events delivered to subscribers. */
  readonly deliveredEvents: Counter;
  /** Commit notifications received over LISTEN. */
  readonly notifications: Counter;
  /** Live events queued for subscribers on this instance (bounded by SUBSCRIBER_BUFFER_EVENTS each). */
  readonly queuedEvents: Gauge;
  /** Subscribers whose live queue overflowed, so they fell back to reading the database. */
  readonly subscriberFallbacks: Counter;
  /** Background reads of the live tail or of the heads that failed (retried by the next poll). */
  readonly tailErrors: Counter;
  /** Read queries by the database that served them ("primary" or a replica's name). */
  readonly reads: Counter<"target">;
  /** Reads a replica could not serve that went to the primary, by reason (behind, error). */
  readonly readFallbacks: Counter<"replica" | "reason">;
  /** Each replica's replay lag behind the primary's WAL; NaN when unknown. */
  readonly replicaLag: Gauge<"replica">;
  /** 1 while a replica serves reads, 0 while it is out of rotation. */
  readonly replicaInRotation: Gauge<"replica">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const events = new Counter({
    name: "ves_events_total",
    help: "Events processed by outcome (accepted, replayed, rejected)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const batches = new Counter({
    name: "ves_batches_total",
    help: "Batches sequenced",
    registers: [registry],
  });
  const latency = new Histogram({
    name: "ves_batch_seconds",
    help: "Time from reading a batch to its response being ready",
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const rpcs = new Counter({
    name: "ves_rpcs_total",
    help: "RPCs by method and result code",
    labelNames: ["method", "code"] as const,
    registers: [registry],
  });
  const openStreams = new Gauge({
    name: "ves_open_streams",
    help: "Open streaming RPCs",
    registers: [registry],
  });
  const sealed = new Counter({
    name: "ves_commitments_sealed_total",
    help: "Commitments sealed by this instance",
    registers: [registry],
  });
  const sealedEvents = new Counter({
    name: "ves_commitment_events_total",
    help: "Events sealed into commitments by this instance",
    registers: [registry],
  });
  const sealLag = new Histogram({
    name: "ves_seal_lag_seconds",
    help: "Time from sequencing a commitment's oldest event to sealing the commitment",
    buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30],
    registers: [registry],
  });
  const sealSeconds = new Histogram({
    name: "ves_seal_seconds",
    help: "Time to seal one commitment (read leaves, build the tree, sign, insert, commit)",
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
    registers: [registry],
  });
  const sealErrors = new Counter({
    name: "ves_seal_errors_total",
    help: "Failed attempts to seal a commitment",
    registers: [registry],
  });
  const receiptUpgrades = new Counter({
    name: "ves_receipt_upgrades_total",
    help: "Inclusion proofs pushed as receipt upgrades on Append streams",
    registers: [registry],
  });
  const subscribers = new Gauge({
    name: "ves_subscribers",
    help: "Live subscriptions (Subscribe and sync Append streams)",
    registers: [registry],
  });
  const deliveredEvents = new Counter({
    name: "ves_subscription_events_total",
    help: "Events delivered to subscribers",
    registers: [registry],
  });
  const notifications = new Counter({
    name: "ves_commit_notifications_total",
    help: "Commit notifications received over LISTEN (from every instance)",
    registers: [registry],
  });
  const queuedEvents = new Gauge({
    name: "ves_subscriber_queued_events",
    help: "Live events queued for subscribers (at most SUBSCRIBER_BUFFER_EVENTS each)",
    registers: [registry],
  });
  const subscriberFallbacks = new Counter({
    name: "ves_subscriber_fallbacks_total",
    help: "Subscribers whose live queue overflowed, so they fell back to reading the database",
    registers: [registry],
  });
  const tailErrors = new Counter({
    name: "ves_subscription_tail_errors_total",
    help: "Failed background reads of subscribed streams (retried by the next poll)",
    registers: [registry],
  });
  const reads = new Counter({
    name: "ves_db_reads_total",
    help: "Read queries by the database that served them (primary, or a replica of DATABASE_READ_URLS)",
    labelNames: ["target"] as const,
    registers: [registry],
  });
  const readFallbacks = new Counter({
    name: "ves_replica_fallbacks_total",
    help: "Reads a replica could not serve (behind: not applied within REPLICA_WAIT_MS; error) that went to the primary",
    labelNames: ["replica", "reason"] as const,
    registers: [registry],
  });
  const replicaLag = new Gauge({
    name: "ves_replica_lag_seconds",
    help: "Replay lag of each read replica behind the primary's WAL position (NaN: unknown)",
    labelNames: ["replica"] as const,
    registers: [registry],
  });
  const replicaInRotation = new Gauge({
    name: "ves_replica_in_rotation",
    help: "1 while a read replica serves reads; 0 while it is out of rotation (unreachable, promoted or lagging)",
    labelNames: ["replica"] as const,
    registers: [registry],
  });
  return {
    registry,
    reads,
    readFallbacks,
    replicaLag,
    replicaInRotation,
    rpcs,
    openStreams,
    sealErrors,
    receiptUpgrades,
    recordSeal(commitment, lagMs, ms) {
      sealed.inc();
      sealedEvents.inc(commitment.leafCount);
      if (lagMs !== undefined) sealLag.observe(lagMs / 1000);
      sealSeconds.observe(ms / 1000);
    },
    subscribers,
    deliveredEvents,
    notifications,
    queuedEvents,
    subscriberFallbacks,
    tailErrors,
    recordBatch(outcome, ms) {
      batches.inc();
      events.inc({ outcome: "accepted" }, outcome.accepted);
      events.inc({ outcome: "replayed" }, outcome.replayed);
      events.inc({ outcome: "rejected" }, outcome.rejected);
      latency.observe(ms / 1000);
    },
  };
}
