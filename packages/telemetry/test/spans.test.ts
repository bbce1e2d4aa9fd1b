import { SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import { AlwaysOffSampler } from '@opentelemetry/sdk-trace-base';
import { currentTraceId, getTracer, setAttributes, withSpan } from '../src';
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

  it('ends the span of a synchronous function before withSpan returns', () => {
    const result = withSpan('sync', { attributes: { 'chat.user.id': 'u1' } }, () => 42);
    // no await yet: the span is already finished (and exported by the simple processor)
    const [span] = tracing.exporter.getFinishedSpans();
    expect(span?.name).toBe('sync');
    expect(span?.attributes['chat.user.id']).toBe('u1');
    return expect(result).resolves.toBe(42);
  });

  it('ends the span of an async function when it settles, and passes its value on', async () => {
    let release!: (value: string) => void;
    const result = withSpan('async', {}, () => new Promise<string>((r) => (release = r)));
    await Promise.resolve();
    expect(tracing.exporter.getFinishedSpans()).toHaveLength(0);
    release('done');
    await expect(result).resolves.toBe('done');
    expect(tracing.exporter.getFinishedSpans().map((s) => s.name)).toEqual(['async']);
  });

  it('takes the parent from the options, and the kind and links', async () => {
    const parent = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const link = { context: trace.getSpanContext(parent)! };
    await withSpan('child', { parent, kind: 1, links: [link] }, () => undefined);
    const [span] = tracing.exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span?.kind).toBe(1);
    expect(span?.links.map((l) => l.context.spanId)).toEqual(['b7ad6b7169203331']);
  });

  it('setAttributes adds to the active span', async () => {
    await withSpan('outer', {}, () => setAttributes({ 'chat.message.id': 'm1' }));
    expect(tracing.exporter.getFinishedSpans()[0]?.attributes['chat.message.id']).toBe('m1');
  });
});

describe('getTracer', () => {
  it('follows the tracer provider when another one is set', async () => {
    const first = startTestTracing();
    await withSpan('first', {}, () => undefined);
    expect(getTracer()).toBe(getTracer());
    expect(first.exporter.getFinishedSpans().map((s) => s.name)).toEqual(['first']);
    await first.shutdown();
    const second = startTestTracing();
    await withSpan('second', {}, () => undefined);
    expect(second.exporter.getFinishedSpans().map((s) => s.name)).toEqual(['second']);
    await second.shutdown();
  });

  it('gives unsampled traces spans that record nothing, errors included', async () => {
    const tracing = startTestTracing(new AlwaysOffSampler());
    const failure = new Error('boom');
    await expect(
      withSpan('dropped', { attributes: { 'chat.user.id': 'u1' } }, (span) => {
        expect(span.isRecording()).toBe(false);
        setAttributes({ 'chat.message.id': 'm1' });
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(tracing.exporter.getFinishedSpans()).toEqual([]);
    await tracing.shutdown();
  });
});
