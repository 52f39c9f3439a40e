// The app's SequencingTracer port on OpenTelemetry's API: one span per sequencing transaction. Used only when
// tracing is on; with it off the use case has no tracer and does no tracing work at all.
import { SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { SequencingTracer } from "../app/ports.js";
import { DomainError } from "../domain/errors.js";

/**
 * One span per sequencing transaction, a child of the RPC's span: "sequence batch" with the stream, the batch's
 * event count, what the transaction did (accepted, replayed, rejected, the new head) and its retries.
 */
export function createSequencingTracer(tracer: Tracer): SequencingTracer {
  return {
    start(stream, events) {
      const span = tracer.startSpan("sequence batch", {
        kind: SpanKind.INTERNAL,
        attributes: {
          "ves.tenant_id": stream.tenantId,
          "ves.store_id": stream.storeId,
          "ves.batch.events": events,
        },
      });
      return {
        retry(err) {
          span.addEvent("retry", {
            "ves.reason": err instanceof DomainError ? err.reason : "unknown",
          });
        },
        end(result, err) {
          if (result !== undefined) {
            span.setAttributes({
              "ves.outcome": "committed",
              "ves.batch.accepted": result.accepted,
              "ves.batch.replayed": result.replayed,
              "ves.batch.rejected": result.rejected,
              "ves.stream.head": result.head.toString(),
            });
          } else {
            const reason = err instanceof DomainError ? err.reason : "internal";
            span.setAttributes({ "ves.outcome": "failed", "ves.error.reason": reason });
            span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
          }
          span.end();
        },
      };
    },
  };
}
