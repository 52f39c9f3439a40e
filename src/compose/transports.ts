// The transports step of the composition root: every service on one router, the plain HTTP routes, the lean
// gRPC unary path, and the one-port server in front of them.
import { randomBytes, randomUUID } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { Sql } from "postgres";
import { AnchorService } from "../../gen/ves/sequencer/v1/anchor_pb.js";
import { ApiKeyService } from "../../gen/ves/sequencer/v1/api_key_pb.js";
import { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { createAdmission } from "../api/admission.js";
import { createAnchorService } from "../api/anchorService.js";
import { createApiKeyService } from "../api/apiKeyService.js";
import { mapDecodeFailures } from "../api/decodeFailures.js";
import { createGrpcUnaryHandler, unaryRoutes } from "../api/grpcUnary.js";
import { createHttpRoutes, type HttpAnswer } from "../api/httpRoutes.js";
import { authInterceptor, errorInterceptor, rpcFailure } from "../api/interceptors.js";
import { createKeyRegistryService } from "../api/keyRegistryService.js";
import type { Metrics } from "../api/metrics.js";
import { POLICY_TABLE, requirePolicies } from "../api/policies.js";
import { createProofService } from "../api/proofService.js";
import { requestDomainInterceptor } from "../api/requestDomain.js";
import { createSequencerService } from "../api/sequencerService.js";
import { createServer, type Server } from "../api/server.js";
import { tracingInterceptor } from "../api/tracing.js";
import type { AnchorReader } from "../app/anchorPorts.js";
import type { AppendDeps, ProofDeps } from "../app/ports.js";
import type { Config } from "../config.js";
import type { Ed25519 } from "../crypto/ed25519.js";
import { nativeSha256 } from "../crypto/native.js";
import { createPgAgentKeyStore } from "../infra/pg/pgAgentKeyStore.js";
import { createPgApiKeyStore } from "../infra/pg/pgApiKeyStore.js";
import { createPgAuditLogReader } from "../infra/pg/pgAuditLog.js";
import { createPgEncryptionKeyStore } from "../infra/pg/pgEncryptionKeyStore.js";
import type { createSequencerKeyList } from "../infra/pg/pgSequencerKeys.js";
import type { Auth } from "./auth.js";
import type { Commitments } from "./commitments.js";
import { connectionLimits } from "./connectionLimits.js";
import type { ReadSide } from "./readSide.js";
import {
  databaseReady,
  registerStandardServices,
  STANDARD_SERVICES,
  sequencerKeyRoutes,
} from "./standardSurface.js";

/** Every service the server registers; each of their methods must have an access policy (api/policies.ts). */
export const SERVICES: readonly DescService[] = [
  SequencerService,
  KeyRegistryService,
  ApiKeyService,
  ProofService,
  AnchorService,
  ...STANDARD_SERVICES,
];
// Events of one Append stream awaiting their receipt upgrade before the server stops reading that stream.
const RECEIPT_UPGRADES_MAX_PENDING = 65_536;
// After a client half-closes its Append stream, pending receipt upgrades are waited for COMMIT_MAX_AGE_MS and this.
const RECEIPT_UPGRADES_DRAIN_MS = 10_000;
// How often an Append stream reads the anchor records of commitments awaiting their anchored upgrade.
const ANCHORED_UPGRADES_POLL_MS = 500;

export interface TransportParts {
  readonly config: Config;
  readonly sql: Sql;
  readonly append: AppendDeps;
  readonly auth: Auth;
  readonly readSide: ReadSide;
  readonly commitments: Commitments;
  /** Undefined: this instance does not anchor (AnchorService answers FAILED_PRECONDITION). */
  readonly anchors: AnchorReader | undefined;
  /** What ProofService reads (read replicas, compose/replicas.ts); the primary's proofDeps when absent. */
  readonly proofReads?: ProofDeps;
  readonly signingKeys: ReturnType<typeof createSequencerKeyList>;
  readonly ed25519: Ed25519;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Aborted when shutdown starts: streams stop reading and end after answering what they read. */
  readonly shutdown: AbortSignal;
  readonly serverVersion: string;
  /** Unset: RPCs are not traced (no interceptor, nothing on the lean path). */
  readonly tracer: Tracer | undefined;
}

export function createTransports(parts: TransportParts): Server {
  const { config, sql, auth, readSide, commitments, metrics, log, shutdown } = parts;
  const clock = { now: () => new Date() };
  const proofService = createProofService({
    deps: parts.proofReads ?? commitments.proofDeps,
    crypto: { sha256: nativeSha256, ed25519: parts.ed25519 },
    signingKeys: parts.signingKeys,
  });
  const anchorService = createAnchorService({ proof: commitments.proofDeps, anchors: parts.anchors });
  const json = (status: number, body: string): HttpAnswer => ({
    status,
    contentType: "application/json",
    body,
  });
  return createServer({
    readMaxBytes: config.maxMessageBytes,
    grpcUnary: createGrpcUnaryHandler(
      [...unaryRoutes(ProofService, proofService), ...unaryRoutes(AnchorService, anchorService)],
      {
        gate: auth.gate,
        policies: POLICY_TABLE,
        log,
        metrics,
        readMaxBytes: config.maxMessageBytes,
        tracer: parts.tracer,
      },
    ),
    interceptors: [
      ...(parts.tracer === undefined ? [] : [tracingInterceptor(parts.tracer)]),
      errorInterceptor(log, metrics),
      authInterceptor(auth.gate, POLICY_TABLE),
      requestDomainInterceptor(),
    ],
    routes: mapDecodeFailures(
      (method) => rpcFailure(log, metrics, method, randomUUID()),
      requirePolicies((router) => {
        router.service(
          SequencerService,
          createSequencerService({
            deps: parts.append,
            admission: createAdmission(config.maxConcurrentBatches, config.maxConcurrentBatchesPerTenant),
            appendIdleTimeoutMs: config.appendIdleTimeoutMs,
            log,
            shutdown,
            serverVersion: parts.serverVersion,
            signingKeys: parts.signingKeys,
            onBatch: (o, ms) => metrics.recordBatch(o, ms),
            receiptUpgrades: {
              deps: commitments.proofDeps,
              watch: commitments.watch,
              log,
              shutdown,
              maxPending: RECEIPT_UPGRADES_MAX_PENDING,
              drainTimeoutMs: config.commitMaxAgeMs + RECEIPT_UPGRADES_DRAIN_MS,
              onUpgrade: (n) => metrics.receiptUpgrades.inc(n),
              ...(parts.anchors === undefined
                ? {}
                : {
                    anchors: {
                      reader: parts.anchors,
                      pollMs: ANCHORED_UPGRADES_POLL_MS,
                      drainTimeoutMs: config.anchor?.upgradeDrainMs ?? RECEIPT_UPGRADES_DRAIN_MS,
                    },
                  }),
            },
            read: {
              reader: readSide.reader,
              hub: readSide.hub,
              shutdown,
              subscribe: {
                maxLagEvents: config.subscriberMaxLagEvents,
                heartbeatDefaultMs: config.subscribeHeartbeatDefaultMs,
                heartbeatMinMs: config.subscribeHeartbeatMinMs,
              },
              onDelivered: (n) => metrics.deliveredEvents.inc(n),
            },
          }),
        );
        router.service(ProofService, proofService);
        router.service(AnchorService, anchorService);
        router.service(
          KeyRegistryService,
          createKeyRegistryService({
            store: createPgAgentKeyStore(sql, nativeSha256),
            encryptionKeys: createPgEncryptionKeyStore(sql, nativeSha256),
            audit: createPgAuditLogReader(sql),
            clock,
            sha256: nativeSha256,
            ed25519: parts.ed25519,
          }),
        );
        router.service(
          ApiKeyService,
          createApiKeyService({
            store: createPgApiKeyStore(sql, nativeSha256),
            lookup: auth.apiKeys,
            clock,
            sha256: nativeSha256,
            random: (n) => new Uint8Array(randomBytes(n)),
          }),
        );
        registerStandardServices(router, { services: SERVICES, ready: databaseReady(sql), shutdown });
        const unlisted = router.handlers
          .filter((h) => !SERVICES.includes(h.service))
          .map((h) => h.service.typeName);
        if (unlisted.length > 0)
          throw new Error(
            `add ${[...new Set(unlisted)].join(", ")} to SERVICES in src/compose/transports.ts`,
          );
      }),
    ),
    httpRoutes: createHttpRoutes(
      auth.gate,
      POLICY_TABLE,
      {
        "/healthz": async () => json(200, '{"status":"ok"}\n'),
        "/readyz": async () => {
          if (shutdown.aborted) return json(503, '{"status":"shutting down"}\n');
          return sql`select 1`.then(
            () => json(200, '{"status":"ready"}\n'),
            () => json(503, '{"status":"database unavailable"}\n'),
          );
        },
        "/metrics": async () => ({
          status: 200,
          contentType: metrics.registry.contentType,
          body: await metrics.registry.metrics(),
        }),
        ...sequencerKeyRoutes(parts.append.signer.sequencerId, parts.signingKeys),
      },
      log,
    ),
    onSocketError: (err) => log.debug({ err }, "client socket error"),
    connections: connectionLimits(config, log),
  });
}
