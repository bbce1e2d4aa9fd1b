import { createNoopMeter } from '@opentelemetry/api';
import type { Attributes, Counter, Meter, MeterProvider } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type {
  BufferConfig,
  ReadableSpan,
  SpanExporter,
  SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Attr, MetricName } from '@tracechat/contracts';
import { incrementCounter } from './metrics';

/** The two span counters every service exports (`tracechat_telemetry_spans_*_total`). */
export const SpanCounters = {
  exported: MetricName.TELEMETRY_SPANS_EXPORTED,
  dropped: MetricName.TELEMETRY_SPANS_DROPPED,
} as const;

/** Why a span was lost: the `error.type` attribute of the dropped counter. */
export const SpanDropReason = {
  /** the batch queue was full when the span ended: the SDK refused it */
  queueFull: 'queue_full',
  /** the OTLP export of its batch failed */
  exportFailed: 'export_failed',
} as const;
export type SpanDropReason = (typeof SpanDropReason)[keyof typeof SpanDropReason];

function countDropped(reason: SpanDropReason, count: number): void {
  incrementCounter(SpanCounters.dropped, { [Attr.ERROR_TYPE]: reason }, count);
}

/** Counts what the batch processor hands over: exported, or dropped when the export fails. */
class CountingExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS)
        incrementCounter(SpanCounters.exported, undefined, spans.length);
      else countDropped(SpanDropReason.exportFailed, spans.length);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

// The batch processor reports each span its full queue refuses on its self-observability counter
// (semantic conventions: otel.sdk.processor.span.processed with error.type=queue_full) and
// nowhere else. This meter takes just that and lets the rest of its self-observability go.
const PROCESSED = 'otel.sdk.processor.span.processed';

function queueFullMeterProvider(): MeterProvider {
  const noop = createNoopMeter();
  const processed: Counter = {
    add(value: number, attributes?: Attributes) {
      if (attributes?.['error.type'] === SpanDropReason.queueFull)
        countDropped(SpanDropReason.queueFull, value);
    },
  };
  const meter: Meter = Object.assign(Object.create(noop) as Meter, {
    createCounter: (name: string, options?: Parameters<Meter['createCounter']>[1]) =>
      name === PROCESSED ? processed : noop.createCounter(name, options),
  });
  return { getMeter: () => meter };
}

/**
 * The SDK's batch span processor, counting every span it loses in
 * `tracechat.telemetry.spans.dropped`: refused by a full queue (`error.type=queue_full`) or in a
 * failed export (`export_failed`); spans exported go to `tracechat.telemetry.spans.exported`.
 * Spans of unsampled traces never enter the queue and are not counted. Settings not given in
 * `config` come from `OTEL_BSP_*`, then the SDK's defaults (startTelemetry passes tracechat's:
 * see DEFAULT_SPAN_EXPORT).
 */
export function countingBatchSpanProcessor(
  exporter: SpanExporter,
  config: BufferConfig = {},
): SpanProcessor {
  // selfObsMeterProvider is read by the processor the shim extends, but missing from the shim's
  // config type
  const options: BufferConfig & { selfObsMeterProvider: MeterProvider } = {
    ...config,
    selfObsMeterProvider: queueFullMeterProvider(),
  };
  return new BatchSpanProcessor(new CountingExporter(exporter), options);
}

/**
 * How many exports an OTLP exporter behind this processor must accept at once. The processor
 * sends one batch at a time, except when it is flushed (shutdown, forceFlush): then every queued
 * batch goes out together, beside the one that may still be in flight. An exporter whose
 * concurrency limit is lower fails the extra batches ("Concurrent export limit reached") and
 * their spans are lost.
 */
export function exportConcurrency(
  config: Pick<BufferConfig, 'maxQueueSize' | 'maxExportBatchSize'>,
): number {
  const queue = config.maxQueueSize ?? 2048;
  const batch = Math.min(config.maxExportBatchSize ?? 512, queue);
  return Math.ceil(queue / batch) + 1;
}

/** Creates both span counters at 0, so "nothing lost" reads as 0 rather than as no series. */
export function initSpanCounters(): void {
  incrementCounter(SpanCounters.exported, undefined, 0, 'Spans exported over OTLP');
  for (const reason of Object.values(SpanDropReason))
    incrementCounter(
      SpanCounters.dropped,
      { [Attr.ERROR_TYPE]: reason },
      0,
      'Spans lost: refused by a full batch queue, or in a failed OTLP export',
    );
}
