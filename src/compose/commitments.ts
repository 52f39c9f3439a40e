// The commitments step of the composition root: the proof store, the watch that tells Append streams with
// receipt upgrades what was sealed, and (where configured) the commitment worker that seals.
import { randomUUID } from "node:crypto";
import { writeSync } from "node:fs";
import type { Logger } from "pino";
import type { Sql } from "postgres";
import type { Metrics } from "../api/metrics.js";
import { type CommitmentWatch, createCommitmentWatch } from "../app/commitmentWatch.js";
import { startCommitmentWorker } from "../app/commitmentWorker.js";
import type { ProofDeps } from "../app/ports.js";
import type { Config } from "../config.js";
import type { Ed25519 } from "../crypto/ed25519.js";
import { nativeSha256 } from "../crypto/native.js";
import { createPgCommitmentStore } from "../infra/pg/pgCommitmentStore.js";
import type { SequencerIdentity } from "../infra/sequencerIdentity.js";
import type { StopStack } from "./stopStack.js";

export interface Commitments {
  readonly proofDeps: ProofDeps;
  readonly watch: CommitmentWatch;
}

export function startCommitments(
  config: Config,
  sql: Sql,
  identity: SequencerIdentity,
  ed25519: Ed25519,
  metrics: Metrics,
  log: Logger,
  stack: StopStack,
): Commitments {
  const proofDeps: ProofDeps = {
    commitments: createPgCommitmentStore(sql, { treeCacheBytes: config.proofTreeCacheBytes }),
    sha256: nativeSha256,
  };
  const watch = createCommitmentWatch(proofDeps.commitments, {
    pollMs: config.commitPollMs,
    onError: (err) => log.error({ err }, "commitment watch: polling sealed ends failed"),
  });
  stack.defer(async () => watch.stop());
  if (!config.commitWorker) return { proofDeps, watch };

  const worker = startCommitmentWorker(
    {
      ...proofDeps,
      signer: {
        sequencerId: identity.sequencerId,
        keyId: identity.keyId,
        sign: ed25519.createSigner(identity.seed),
      },
      clock: { now: () => new Date() },
      newId: randomUUID,
    },
    {
      policy: { maxEvents: config.commitMaxEvents, maxAgeMs: config.commitMaxAgeMs },
      pollMs: config.commitPollMs,
      concurrency: config.commitConcurrency,
      onSealed(c, firstSequencedAt, ms) {
        const lagMs =
          firstSequencedAt === undefined ? undefined : c.committedAt.getTime() - firstSequencedAt.getTime();
        metrics.recordSeal(c, lagMs, ms);
        watch.notify(c, c.sequenceEnd);
        log.debug(
          {
            tenantId: c.tenantId,
            storeId: c.storeId,
            commitmentId: c.commitmentId,
            sequenceStart: String(c.sequenceStart),
            sequenceEnd: String(c.sequenceEnd),
            lagMs,
            ms: Math.round(ms * 10) / 10,
          },
          "commitment sealed",
        );
      },
      onError(err) {
        metrics.sealErrors.inc();
        log.error({ err }, "commitment worker: sealing failed; will retry");
      },
      ...(config.commitFault === "exit_before_commit"
        ? {
            beforeCommit(c) {
              // Written synchronously: the process dies on the next line, before the logger would flush.
              const line = {
                level: 40,
                time: Date.now(),
                commitmentId: c.commitmentId,
                sequenceEnd: String(c.sequenceEnd),
                msg: "COMMIT_FAULT=exit_before_commit: killing the process before the commitment commits",
              };
              writeSync(2, `${JSON.stringify(line)}\n`);
              process.kill(process.pid, "SIGKILL");
            },
          }
        : {}),
    },
  );
  // Registered after the crypto pool, so it stops (finishing the seal in flight) before the pool closes.
  stack.defer(() => worker.stop());
  return { proofDeps, watch };
}
