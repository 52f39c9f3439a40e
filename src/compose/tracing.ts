// The tracing step of the composition root: the tracer given (tests), or OpenTelemetry's OTLP export when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, or none, in which case nothing on any path is traced.
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { StopStack } from "./stopStack.js";

export async function startTracing(
  config: Config,
  given: Tracer | undefined,
  serviceVersion: string,
  log: Logger,
  stack: StopStack,
): Promise<Tracer | undefined> {
  if (given !== undefined) return given;
  if (!config.otelTracing) return undefined;
  // Imported only now: the SDK and the exporter cost about half a second of start-up.
  const { startOtlpTracing } = await import("../infra/tracing.js");
  const tracing = startOtlpTracing(serviceVersion, (detail) =>
    log.warn({ detail }, "exporting traces over OTLP failed; spans are dropped"),
  );
  // Deferred first, so it stops last: the spans of the last calls are exported.
  stack.defer(() => tracing.shutdown());
  log.info("tracing: exporting spans over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT)");
  return tracing.tracer;
}
