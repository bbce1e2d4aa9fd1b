import { metrics } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { countingBatchSpanProcessor, initSpanCounters } from '../src/span-processor';

class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** An exporter that holds every batch until released: the collector is slow or gone. */
class StuckExporter implements SpanExporter {
  readonly held: { spans: ReadableSpan[]; done: (r: ExportResult) => void }[] = [];
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.held.push({ spans, done });
  }
  release(code: ExportResultCode): void {
    for (const { done } of this.held.splice(0)) done({ code });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });

beforeAll(() => {
  metrics.setGlobalMeterProvider(meterProvider);
  initSpanCounters();
});
afterAll(async () => {
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

/**
 * Spans dropped since `before`, by reason. The counters belong to the process: other tests of
 * this file (in any order) add to them, so each test counts from its own start.
 */
async function droppedSince(before: Record<string, number>): Promise<Record<string, number>> {
  const now = await counter('tracechat.telemetry.spans.dropped');
  return Object.fromEntries(
    ['queue_full', 'export_failed'].map((k) => [k, (now[k] ?? 0) - (before[k] ?? 0)]),
  );
}

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('countingBatchSpanProcessor', () => {
  it('counts every span a full batch queue refuses, and every span it later exports', async () => {
    const before = await counter('tracechat.telemetry.spans.dropped');
    const exportedBefore = (await counter('tracechat.telemetry.spans.exported'))[''] ?? 0;
    const exporter = new StuckExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [
        countingBatchSpanProcessor(exporter, {
          maxQueueSize: 4,
          maxExportBatchSize: 2,
          scheduledDelayMillis: 10,
        }),
      ],
    });
    const tracer = provider.getTracer('test');
    // the first 2 go out in a batch that hangs; 4 more fill the queue; the last 4 find it full
    for (let i = 0; i < 10; i++) tracer.startSpan(`span ${i}`).end();
    expect(exporter.held.map((b) => b.spans.length)).toEqual([2]);
    expect(await droppedSince(before)).toEqual({
      queue_full: 4,
      export_failed: 0,
    });

    // the exporter recovers: what was queued goes out, the refused 4 stay lost
    const drain = async () => {
      exporter.release(ExportResultCode.SUCCESS);
      return (await counter('tracechat.telemetry.spans.exported'))['']! >= exportedBefore + 6;
    };
    await until(drain);
    expect(await counter('tracechat.telemetry.spans.exported')).toEqual({
      '': exportedBefore + 6,
    });
    expect(await droppedSince(before)).toEqual({
      queue_full: 4,
      export_failed: 0,
    });
    await provider.shutdown();
  });

  it('counts the spans of a failed export as dropped', async () => {
    const before = await counter('tracechat.telemetry.spans.dropped');
    const exporter = new StuckExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [countingBatchSpanProcessor(exporter, { scheduledDelayMillis: 10 })],
    });
    const tracer = provider.getTracer('test');
    for (let i = 0; i < 3; i++) tracer.startSpan(`span ${i}`).end();
    await until(async () => exporter.held.length > 0);
    exporter.release(ExportResultCode.FAILED);
    expect(await droppedSince(before)).toEqual({ queue_full: 0, export_failed: 3 });
    await provider.shutdown();
  });
});
