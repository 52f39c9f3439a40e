// OpenTelemetry's OTLP/HTTP export, started when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set,
// honouring the standard OTEL_* variables (exporter endpoint, headers, timeout; OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES; OTEL_TRACES_SAMPLER and its argument; OTEL_BSP_* batching). Loaded only when tracing is
// on (the SDK and the exporter take about half a second to import).
import { DiagLogLevel, diag, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

export interface Tracing {
  readonly tracer: Tracer;
  /** Exports the spans still queued (for at most a few seconds: a collector that is down must not hold up a stop), then stops. */
  shutdown(): Promise<void>;
}

/** Where the exporter's own failures (an unreachable collector) go; at most one line a minute. */
export type TracingWarn = (message: string) => void;

const WARN_EVERY_MS = 60_000;
/** How long a stop waits for the last spans to be exported. */
const FLUSH_ON_STOP_MS = 2000;

/**
 * Starts exporting spans over OTLP/HTTP (JSON) to the collector the OTEL_EXPORTER_OTLP_* variables name, and
 * registers the provider globally (W3C trace context propagation, AsyncLocalStorage context).
 */
export function startOtlpTracing(serviceVersion: string, warn: TracingWarn): Tracing {
  let lastWarning = 0;
  diag.setLogger(
    {
      error: (message) => {
        if (Date.now() - lastWarning < WARN_EVERY_MS) return;
        lastWarning = Date.now();
        warn(message);
      },
      warn: () => {},
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.ERROR,
  );
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "ves-sequencer", "service.version": serviceVersion }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  return {
    tracer: provider.getTracer("ves-sequencer", serviceVersion),
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), FLUSH_ON_STOP_MS);
      });
      const result = await Promise.race([provider.shutdown(), gaveUp]);
      clearTimeout(timer);
      if (result === "timeout") {
        warn(`the last spans were not exported within ${FLUSH_ON_STOP_MS} ms of stopping; dropped`);
      }
    },
  };
}
