import type { HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from './logger';

/** An HrTime as an ISO 8601 UTC time with microseconds: `2026-12-02T22:50:01.123456Z`. */
export function isoMicros([seconds, nanos]: HrTime): string {
  const micros = String(Math.floor(nanos / 1000)).padStart(6, '0');
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, `.${micros}Z`);
}

function micros([seconds, nanos]: HrTime): number {
  return seconds * 1_000_000 + nanos / 1000;
}

/** The fields of a span's log line (never events' or links' contents). */
export function spanLogFields(span: ReadableSpan): Record<string, unknown> {
  const context = span.spanContext();
  return {
    span_name: span.name,
    trace_id: context.traceId,
    span_id: context.spanId,
    parent_span_id: span.parentSpanContext?.spanId ?? null,
    service: span.resource.attributes['service.name'],
    start: isoMicros(span.startTime),
    duration_us: micros(span.duration),
    status: span.status.code === 2 ? 'error' : 'ok',
    attributes: span.attributes,
  };
}

/**
 * Writes one log line per finished span (`msg: "span"`) through the given pino logger, so a
 * developer sees spans in the service's log without a trace backend. The line holds the span's
 * name, ids, parent, service, start (µs), duration (µs), status and attributes: attributes
 * never hold message text, and the logger redacts text, tokens and secrets besides.
 */
export class LogSpanExporter implements SpanExporter {
  constructor(private readonly log: Logger) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) this.log.info(spanLogFields(span), 'span');
    done({ code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}
