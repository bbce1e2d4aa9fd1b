import { SpanStatusCode } from '@opentelemetry/api';
import { currentTraceId, withSpan } from '../src';
import { startTestTracing } from '../src/testing';
import type { TestTracing } from '../src/testing';

describe('withSpan', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterEach(() => tracing.reset());
  afterAll(() => tracing.shutdown());

  it('nests spans and exposes the trace id inside', async () => {
    const ids = await withSpan('outer', { attributes: { 'chat.user.id': 'u1' } }, async () =>
      withSpan('inner', {}, () => currentTraceId()),
    );
    const spans = tracing.exporter.getFinishedSpans();
    const outer = spans.find((s) => s.name === 'outer')!;
    const inner = spans.find((s) => s.name === 'inner')!;
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(ids).toBe(outer.spanContext().traceId);
    expect(outer.attributes['chat.user.id']).toBe('u1');
    expect(currentTraceId()).toBeUndefined();
  });

  it('marks every span an error escapes from, but records the exception once', async () => {
    const failure = Object.assign(new Error('not a member'), { code: 'FORBIDDEN' });
    await expect(
      withSpan('outer', {}, () =>
        withSpan('inner', {}, () => {
          throw failure;
        }),
      ),
    ).rejects.toBe(failure);
    const spans = tracing.exporter.getFinishedSpans();
    for (const span of spans) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type']).toBe('FORBIDDEN');
    }
    const events = spans.flatMap((s) => s.events.filter((e) => e.name === 'exception'));
    expect(events).toHaveLength(1);
    expect(spans.find((s) => s.name === 'inner')!.events[0]!.name).toBe('exception');
  });
});
