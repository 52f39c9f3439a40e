// The read side of the composition root: the event reader and the subscription hub that fans commits out to
// live subscribers (LISTEN/NOTIFY as the wake-up, polling as the safety net).
import type { Logger } from "pino";
import type { Sql } from "postgres";
import type { Metrics } from "../api/metrics.js";
import type { EventReader } from "../app/ports.js";
import { createSubscriptionHub, type SubscriptionHub } from "../app/subscriptionHub.js";
import type { Config } from "../config.js";
import { READ_LIMITS } from "../domain/limits.js";
import { createPgCommitFeed } from "../infra/pg/pgCommitFeed.js";
import { createPgEventReader } from "../infra/pg/pgEventReader.js";
import type { StopStack } from "./stopStack.js";

export interface ReadSide {
  readonly reader: EventReader;
  readonly hub: SubscriptionHub;
}

const TAIL_WARNING_INTERVAL_MS = 10_000;

export async function startReadSide(
  config: Config,
  sql: Sql,
  metrics: Metrics,
  log: Logger,
  stack: StopStack,
): Promise<ReadSide> {
  const reader = createPgEventReader(sql);
  let lastTailWarning = 0;
  const hub = createSubscriptionHub({
    reader,
    feed: createPgCommitFeed(sql, {
      pingIntervalMs: config.commitFeedCheckMs,
      onHealth: (healthy, err) =>
        healthy
          ? log.info("commit notifications arrive again")
          : log.warn(
              { err, pollIntervalMs: config.subscribePollIntervalMs },
              "commit notifications do not arrive; live subscribers see new events through polling until they do",
            ),
    }),
    bufferEvents: config.subscriberBufferEvents,
    pollIntervalMs: config.subscribePollIntervalMs,
    maxSubscribers: config.subscriberMax,
    pageEvents: READ_LIMITS.maxPageEvents,
    pageBytes: READ_LIMITS.maxPageBytes,
    observer: {
      notified: () => metrics.notifications.inc(),
      fellBack: () => metrics.subscriberFallbacks.inc(),
      subscribers: (n) => metrics.subscribers.set(n),
      queued: (n) => metrics.queuedEvents.set(n),
      failed: (err) => {
        metrics.tailErrors.inc();
        if (Date.now() - lastTailWarning < TAIL_WARNING_INTERVAL_MS) return;
        lastTailWarning = Date.now();
        log.warn({ err }, "reading a subscribed stream failed; the next poll retries");
      },
    },
  });
  await hub.start();
  stack.defer(() => hub.close());
  return { reader, hub };
}
