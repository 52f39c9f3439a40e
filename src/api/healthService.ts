// grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md): SERVING while the
// database answers and the server is not draining, NOT_SERVING otherwise; the same readiness as GET /readyz.
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";

export interface HealthOptions {
  /** Service names that can be asked about; "" (the whole server) always can. */
  readonly services: readonly string[];
  /** Whether the database answers. Called at most once at a time; callers share an answer in flight. */
  readonly ready: () => Promise<boolean>;
  /** Aborted when shutdown starts: from then on every status is NOT_SERVING and Watch streams end. */
  readonly shutdown: AbortSignal;
  /** How often a Watch re-checks readiness. */
  readonly watchIntervalMs: number;
}

/** The longest delay setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export function createHealthService(opts: HealthOptions): ServiceImpl<typeof Health> {
  const known = new Set(["", ...opts.services]);
  let probing: Promise<boolean> | undefined;
  const status = async (): Promise<Status> => {
    if (opts.shutdown.aborted) return Status.NOT_SERVING;
    probing ??= opts.ready().finally(() => {
      probing = undefined;
    });
    const ok = await probing.catch(() => false);
    return ok && !opts.shutdown.aborted ? Status.SERVING : Status.NOT_SERVING;
  };
  const shuttingDown = (): ConnectError => new ConnectError("shutting down", Code.Unavailable);

  return {
    async check(req) {
      if (!known.has(req.service)) {
        throw new ConnectError(
          `"service" expected "" or one of ${[...known].filter((s) => s !== "").join(", ")}, got "${req.service}"`,
          Code.NotFound,
        );
      }
      return { status: await status() };
    },

    async list() {
      const s = await status();
      return { statuses: Object.fromEntries([...known].map((name) => [name, { status: s }])) };
    },

    // Sends the status at once and again whenever it changes; ends with UNAVAILABLE after sending NOT_SERVING
    // when shutdown starts, so a draining server is not held open by its watchers.
    async *watch(req, ctx) {
      const wake = AbortSignal.any([ctx.signal, opts.shutdown]);
      if (!known.has(req.service)) {
        // The protocol: an unknown service is reported, and the call stays open (it may be registered later).
        yield { status: Status.SERVICE_UNKNOWN };
        while (!wake.aborted) await sleep(MAX_TIMER_MS, wake);
        if (opts.shutdown.aborted) throw shuttingDown();
        return;
      }
      let last: Status | undefined;
      while (!ctx.signal.aborted) {
        const s = await status();
        if (s !== last) {
          last = s;
          yield { status: s };
        }
        if (opts.shutdown.aborted) {
          if (last !== Status.NOT_SERVING) yield { status: Status.NOT_SERVING };
          throw shuttingDown();
        }
        await sleep(opts.watchIntervalMs, wake);
      }
    },
  };
}
