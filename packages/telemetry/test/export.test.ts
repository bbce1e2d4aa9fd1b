import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { loadTelemetryConfig, shutdownTelemetry, startTelemetry, withSpan } from '../src';
import { spanProcessors, traceExporter } from '../src/sdk';
import { SpanClockProcessor } from '../src/span-clock';
import { countingBatchSpanProcessor, exportConcurrency } from '../src/span-processor';
import { startReceiver } from './otlp-receiver';
import type { OtlpReceiver } from './otlp-receiver';

class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });
let receiver: OtlpReceiver;

beforeAll(async () => {
  metrics.setGlobalMeterProvider(meterProvider);
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.stop();
  await meterProvider.shutdown();
  metrics.disable();
});

/** Current value of a counter per `error.type` (or '' when it has none). */
async function counter(name: string): Promise<Record<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === name);
  return Object.fromEntries(
    (metric?.dataPoints ?? []).map((p) => [
      String(p.attributes['error.type'] ?? ''),
      p.value as number,
    ]),
  );
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_METRICS_EXPORTER: 'none',
    SERVICE_NAME: 'export-test',
    ...extra,
  };
}

describe('OTLP export', () => {
  it.each([
    ['http/protobuf', 'protobufRequests'],
    ['http/json', 'jsonRequests'],
  ] as const)('sends spans as %s', async (protocol, requests) => {
    const before = await receiver.counts();
    const config = loadTelemetryConfig(env({ OTEL_EXPORTER_OTLP_PROTOCOL: protocol }));
    const provider = new BasicTracerProvider({
      spanProcessors: [countingBatchSpanProcessor(traceExporter(config), config.spanExport)],
    });
    const tracer = provider.getTracer('test');
    for (let i = 0; i < 3; i++) tracer.startSpan(`${protocol} span`).end();
    await provider.shutdown();
    const after = await receiver.counts();
    expect(after[requests] - before[requests]).toBe(1);
    expect(after.names[`${protocol} span`]).toBe(3);
    expect(after.errors).toBe(0);
  });

  it('sends every queued batch when flushed at once: none is refused for concurrency', async () => {
    const exported = (await counter('tracechat.telemetry.spans.exported'))[''] ?? 0;
    const failed = (await counter('tracechat.telemetry.spans.dropped'))['export_failed'] ?? 0;
    // 64 batches: more than the exporter's default limit of 30 exports at once
    const buffer = { maxQueueSize: 256, maxExportBatchSize: 4, scheduledDelayMillis: 60_000 };
    const config = loadTelemetryConfig(env());
    const provider = new BasicTracerProvider({
      spanProcessors: [
        countingBatchSpanProcessor(
          traceExporter({ ...config, spanExport: { ...config.spanExport, ...buffer } }),
          buffer,
        ),
      ],
    });
    expect(exportConcurrency(buffer)).toBe(65);
    const tracer = provider.getTracer('test');
    // the first full batch leaves at once; the other 252 spans wait in the queue for the flush
    for (let i = 0; i < 256; i++) tracer.startSpan('flushed span').end();
    await provider.forceFlush();
    expect((await receiver.counts()).names['flushed span']).toBe(256);
    expect((await counter('tracechat.telemetry.spans.exported'))['']).toBe(exported + 256);
    // the counters are the process's: another test of this file may have failed exports before
    expect((await counter('tracechat.telemetry.spans.dropped'))['export_failed'] ?? 0).toBe(failed);
    await provider.shutdown();
  });

  it('loses (and counts) the batches over an exporter limit lower than the queue needs', async () => {
    // the failure the limit above prevents: a flush of 8 queued batches through 3 slots
    const buffer = { maxQueueSize: 64, maxExportBatchSize: 8, scheduledDelayMillis: 60_000 };
    const failed = (await counter('tracechat.telemetry.spans.dropped'))['export_failed'] ?? 0;
    const provider = new BasicTracerProvider({
      spanProcessors: [
        countingBatchSpanProcessor(
          new ProtobufTraceExporter({ url: `${receiver.url}/v1/traces`, concurrencyLimit: 3 }),
          buffer,
        ),
      ],
    });
    const tracer = provider.getTracer('test');
    for (let i = 0; i < 64; i++) tracer.startSpan('limited span').end();
    await expect(provider.forceFlush()).rejects.toEqual([
      new Error('Concurrent export limit reached'),
    ]);
    // shutting down waits for the exports that did go out
    await provider.shutdown();
    const received = (await receiver.counts()).names['limited span'] ?? 0;
    expect(received).toBe(24); // the batch sent when the first 8 ended, and 2 of the 7 flushed
    expect((await counter('tracechat.telemetry.spans.dropped'))['export_failed']).toBe(failed + 40);
  });
});

describe('startTelemetry', () => {
  afterAll(() => {
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('exports the spans of withSpan over OTLP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const before = await receiver.counts();
    startTelemetry(loadTelemetryConfig(env({ OTEL_BSP_SCHEDULE_DELAY: '10' })));
    const resource = await withSpan('outer', {}, (span) =>
      withSpan('inner', {}, () => (span as unknown as ReadableSpan).resource),
    );
    await shutdownTelemetry();
    // who sent it, and nothing of the command line, executable or runtime
    expect(Object.keys(resource.attributes).sort()).toEqual([
      'deployment.environment.name',
      'host.name',
      'process.pid',
      'service.instance.id',
      'service.name',
      'service.version',
    ]);
    expect(resource.attributes['service.name']).toBe('export-test');
    const after = await receiver.counts();
    expect(after.names).toMatchObject({ outer: 1, inner: 1 });
    expect(after.protobufRequests).toBeGreaterThan(before.protobufRequests);
    expect(after.jsonRequests).toBe(before.jsonRequests);
  });

  it('times every span by the span clock and exports nothing with OTEL_TRACES_EXPORTER=none', async () => {
    const before = await receiver.counts();
    startTelemetry(
      loadTelemetryConfig(env({ OTEL_BSP_SCHEDULE_DELAY: '10', OTEL_TRACES_EXPORTER: 'none' })),
    );
    const starts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const span = await withSpan('timed', {}, (s) => s as unknown as ReadableSpan);
      starts.push(span.startTime[1]);
    }
    await shutdownTelemetry();
    // nanoseconds on a whole millisecond would be a multiple of 1e6
    expect(starts.filter((ns) => ns % 1_000_000 === 0).length).toBeLessThanOrEqual(1);
    const after = await receiver.counts();
    expect(after.names.timed ?? 0).toBe(before.names.timed ?? 0);
  });

  it('puts the span clock first, then one processor per OTEL_TRACES_EXPORTER entry', () => {
    const processors = spanProcessors(
      loadTelemetryConfig(env({ OTEL_TRACES_EXPORTER: 'otlp,console' })),
    );
    expect(processors).toHaveLength(3);
    expect(processors[0]).toBeInstanceOf(SpanClockProcessor);
    expect(spanProcessors(loadTelemetryConfig(env({ OTEL_TRACES_EXPORTER: 'none' })))).toHaveLength(
      1,
    );
  });
});
