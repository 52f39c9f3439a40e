// The read-replica step of the composition root: when DATABASE_READ_URLS names hot standbys, a read router
// (infra/pg/readRouter.ts) that serves client reads (PullEvents, GetEntityHistory, Subscribe catch-up,
// commitments, proofs) from them, with its metrics and logs; without it, the primary's readers unchanged.
import type { Logger } from "pino";
import type { Sql } from "postgres";
import type { Metrics } from "../api/metrics.js";
import type { CommitmentStore, EventReader } from "../app/ports.js";
import type { Config } from "../config.js";
import { createSql, redactUrl } from "../infra/pg/createSql.js";
import { createPgCommitmentStore } from "../infra/pg/pgCommitmentStore.js";
import { createPgEventReader } from "../infra/pg/pgEventReader.js";
import { createReadRouter } from "../infra/pg/readRouter.js";
import type { StopStack } from "./stopStack.js";

export interface ClientReads {
  /** PullEvents, GetEntityHistory, Subscribe catch-up: replicas when configured, else the primary's reader. */
  readonly reader: EventReader;
  /** Commitments and proofs served to clients: replicas when configured, else the primary's store. */
  readonly commitments: CommitmentStore;
}

export type ReplicasConfig = Pick<
  Config,
  | "databaseReadUrls"
  | "dbPoolMax"
  | "proofTreeCacheBytes"
  | "replicaMaxLagMs"
  | "replicaWaitMs"
  | "replicaCheckMs"
>;

/**
 * `primary`: the primary's reader and commitment store, which keep serving what must see the latest commit
 * (the live tail, sealing, receipt upgrades) and whatever a replica cannot serve.
 */
export async function startReadReplicas(
  config: ReplicasConfig,
  sql: Sql,
  primary: ClientReads,
  metrics: Metrics,
  log: Logger,
  stack: StopStack,
): Promise<ClientReads> {
  if (config.databaseReadUrls.length === 0) return primary;
  const replicas = config.databaseReadUrls.map((url, i) => {
    const replicaSql = createSql(url, {
      max: config.dbPoolMax,
      applicationName: "ves-sequencer-reads",
      connectTimeoutSeconds: 5,
    });
    stack.defer(() => replicaSql.end({ timeout: 5 }));
    return {
      name: `replica${i}`,
      url: redactUrl(url),
      sql: replicaSql,
      reader: createPgEventReader(replicaSql),
      commitments: createPgCommitmentStore(replicaSql, { treeCacheBytes: config.proofTreeCacheBytes }),
    };
  });
  const urlOf = new Map(replicas.map((r) => [r.name, r.url]));
  for (const r of replicas) metrics.replicaInRotation.set({ replica: r.name }, 0);
  const router = createReadRouter({
    primary: { sql, ...primary },
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
  await router.start();
  stack.defer(() => router.stop());
  return { reader: router.reader, commitments: router.commitments };
}
