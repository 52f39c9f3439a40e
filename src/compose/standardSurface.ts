// The server's standard, public surface, wired for the composition root: grpc.health.v1.Health, gRPC server
// reflection (v1 and v1alpha), and the receipt-signing keys as JSON at a well-known path.
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { Sql } from "postgres";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createHealthService } from "../api/healthService.js";
import type { HttpHandlers } from "../api/httpRoutes.js";
import { createReflectionServices } from "../api/reflectionService.js";
import { SEQUENCER_KEYS_PATH, type SequencerKeyView, sequencerKeysJson } from "../api/sequencerKeys.js";

export const STANDARD_SERVICES: readonly DescService[] = [
  Health,
  ServerReflectionV1,
  ServerReflectionV1alpha,
];

const HEALTH_WATCH_INTERVAL_MS = 1_000;
const READY_TIMEOUT_MS = 2_000;

/** Whether the database answers `select 1` within two seconds. */
export function databaseReady(sql: Sql): () => Promise<boolean> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    });
    const query = sql`select 1`.then(
      () => true,
      () => false,
    );
    return Promise.race([query, timeout]).finally(() => clearTimeout(timer));
  };
}

export interface StandardServicesOptions {
  /** Every service the server registers (the standard ones included): what reflection lists and health knows. */
  readonly services: readonly DescService[];
  readonly ready: () => Promise<boolean>;
  readonly shutdown: AbortSignal;
  readonly watchIntervalMs?: number;
}

export function registerStandardServices(router: ConnectRouter, opts: StandardServicesOptions): void {
  router.service(
    Health,
    createHealthService({
      services: opts.services.map((s) => s.typeName),
      ready: opts.ready,
      shutdown: opts.shutdown,
      watchIntervalMs: opts.watchIntervalMs ?? HEALTH_WATCH_INTERVAL_MS,
    }),
  );
  const reflection = createReflectionServices(opts.services);
  router.service(ServerReflectionV1, reflection.v1);
  router.service(ServerReflectionV1alpha, reflection.v1alpha);
}

/** GET /.well-known/ves-sequencer-keys.json: the receipt-signing keys, public. */
export function sequencerKeyRoutes(
  sequencerId: string,
  signingKeys: () => Promise<SequencerKeyView[]>,
): HttpHandlers {
  return {
    [SEQUENCER_KEYS_PATH]: async () => ({
      status: 200,
      contentType: "application/json",
      body: sequencerKeysJson(sequencerId, await signingKeys()),
    }),
  };
}
