import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../src';
import { isoMicros, LogSpanExporter } from '../src/console-exporter';
import { SpanClockProcessor } from '../src/span-clock';
import { captureLog } from './log-capture';

describe('LogSpanExporter — spans in the service log', () => {
  it('writes one JSON line per finished span with ids, parent, service, µs times and attributes', async () => {
    const out = captureLog();
    const log = createLogger({ name: 'gateway', destination: out.stream });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'gateway' }),
      spanProcessors: [new SpanClockProcessor(), new SimpleSpanProcessor(new LogSpanExporter(log))],
    });
    const tracer = provider.getTracer('test');
    const parent = tracer.startSpan('gateway.ws.message', {
      attributes: { 'tracechat.session.id': 's1' },
    });
    const child = tracer.startSpan(
      'logic.chat.send_message',
      { attributes: { 'tracechat.message.seq': 7 } },
      trace.setSpan(context.active(), parent),
    );
    child.end();
    parent.end();
    await provider.shutdown();

    const lines = out.lines();
    expect(lines).toHaveLength(2);
    const [c, p] = lines as [Record<string, unknown>, Record<string, unknown>];
    expect(c).toMatchObject({
      level: 30,
      name: 'gateway',
      msg: 'span',
      span_name: 'logic.chat.send_message',
      trace_id: parent.spanContext().traceId,
      span_id: child.spanContext().spanId,
      parent_span_id: parent.spanContext().spanId,
      service: 'gateway',
      status: 'ok',
      attributes: { 'tracechat.message.seq': 7 },
    });
    expect(p).toMatchObject({ span_name: 'gateway.ws.message', parent_span_id: null });
    for (const line of lines) {
      expect(line.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(typeof line.duration_us).toBe('number');
    }
    expect(Date.parse(c.start as string)).toBeGreaterThanOrEqual(Date.parse(p.start as string));
  });

  it('never writes message text or tokens, even if an attribute held them', async () => {
    const out = captureLog();
    const exporter = new LogSpanExporter(createLogger({ name: 'logic', destination: out.stream }));
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    provider
      .getTracer('test')
      .startSpan('careless', { attributes: { text: 'hello secret world', token: 'eyJ.x.y' } })
      .end();
    await provider.shutdown();
    const raw = JSON.stringify(out.lines());
    expect(raw).not.toContain('hello secret world');
    expect(raw).not.toContain('eyJ.x.y');
  });

  it('formats times with microseconds', () => {
    expect(isoMicros([1_800_000_000, 123_456_789])).toBe('2027-01-15T08:00:00.123456Z');
    expect(isoMicros([1_800_000_000, 5_000])).toBe('2027-01-15T08:00:00.000005Z');
  });
});
