// Composition step for the database's read side: the primary's readers, and, when DATABASE_READ_URLS names hot
// standbys, a read router that spreads reads over them (infra/pg/readRouter.ts) with its metrics and logs.
import type { Logger } from "pino";
import type { Sql } from "postgres";
import type { Metrics } from "../api/metrics.js";
import type { CommitmentStore, EventReader } from "../app/ports.js";
import type { Config } from "../config.js";
import { createSql, redactUrl } from "../infra/pg/createSql.js";
import { createPgCommitmentStore } from "../infra/pg/pgCommitmentStore.js";
import { createPgEventReader } from "../infra/pg/pgEventReader.js";
import { createReadRouter, type ReadRouter } from "../infra/pg/readRouter.js";

export interface DatabaseReads {
  /** The primary's reader: the live tail of subscriptions and everything that must see the latest commit. */
  readonly primaryReader: EventReader;
  /** The primary's commitment store: sealing, the commitment watch, receipt upgrades. */
  readonly primaryCommitments: CommitmentStore;
  /** PullEvents, GetEntityHistory, Subscribe catch-up: replicas when configured, else the primary. */
  readonly reader: EventReader;
  /** Commitments and proofs served to clients: replicas when configured, else the primary. */
  readonly commitments: CommitmentStore;
  readonly router: ReadRouter | undefined;
  stop(): Promise<void>;
}

export type DatabaseReadsConfig = Pick<
  Config,
  | "databaseReadUrls"
  | "dbPoolMax"
  | "proofTreeCacheBytes"
  | "replicaMaxLagMs"
  | "replicaWaitMs"
  | "replicaCheckMs"
>;

export async function startDatabaseReads(
  sql: Sql,
  config: DatabaseReadsConfig,
  metrics: Metrics,
  log: Logger,
): Promise<DatabaseReads> {
  const primaryReader = createPgEventReader(sql);
  const primaryCommitments = createPgCommitmentStore(sql, { treeCacheBytes: config.proofTreeCacheBytes });
  if (config.databaseReadUrls.length === 0) {
    return {
      primaryReader,
      primaryCommitments,
      reader: primaryReader,
      commitments: primaryCommitments,
      router: undefined,
      stop: async () => {},
    };
  }
  const replicas = config.databaseReadUrls.map((url, i) => {
    const replicaSql = createSql(url, {
      max: config.dbPoolMax,
      applicationName: "ves-sequencer-reads",
      connectTimeoutSeconds: 5,
    });
    return {
      name: `replica${i}`,
      url: redactUrl(url),
      sql: replicaSql,
      reader: createPgEventReader(replicaSql),
      commitments: createPgCommitmentStore(replicaSql, { treeCacheBytes: config.proofTreeCacheBytes }),
    };
  });
  const urlOf = new Map(replicas.map((r) => [r.name, r.url]));
  const router = createReadRouter({
    primary: { sql, reader: primaryReader, commitments: primaryCommitments },
    replicas,
    maxLagMs: config.replicaMaxLagMs,
    waitMs: config.replicaWaitMs,
    checkMs: config.replicaCheckMs,
    observer: {
      read: (target) => metrics.reads.inc({ target }),
      fellBack: (replica, reason) => metrics.readFallbacks.inc({ replica, reason }),
      lag: (replica, lagMs) =>
        metrics.replicaLag.set({ replica }, lagMs === undefined ? Number.NaN : lagMs / 1000),
      rotation(replica, inRotation, why, err) {
        metrics.replicaInRotation.set({ replica }, inRotation ? 1 : 0);
        const fields = { replica, url: urlOf.get(replica), why, err };
        if (inRotation) log.info(fields, "read replica in rotation");
        else log.warn(fields, "read replica out of rotation: the primary serves its reads until it is back");
      },
    },
  });
  for (const r of replicas) metrics.replicaInRotation.set({ replica: r.name }, 0);
  await router.start();
  return {
    primaryReader,
    primaryCommitments,
    reader: router.reader,
    commitments: router.commitments,
    router,
    async stop() {
      await router.stop();
      await Promise.all(replicas.map((r) => r.sql.end({ timeout: 5 })));
    },
  };
}
