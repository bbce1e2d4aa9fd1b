import { Writable } from 'node:stream';
import { createLogger, withSpan } from '../src';
import { startTestTracing } from '../src/testing';
import type { TestTracing } from '../src/testing';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(() => tracing.shutdown());

  it('puts trace_id and span_id on every line written inside a span', async () => {
    const out = capture();
    const log = createLogger({ name: 'test', destination: out.stream });
    const ids = await withSpan('work', {}, (span) => {
      log.info('inside');
      return span.spanContext();
    });
    log.info('outside');
    const [inside, outside] = out.lines();
    expect(inside).toMatchObject({ msg: 'inside', trace_id: ids.traceId, span_id: ids.spanId });
    expect(outside).not.toHaveProperty('trace_id');
  });

  it('never writes message text, tokens or secrets', () => {
    const out = capture();
    const log = createLogger({ name: 'test', destination: out.stream });
    log.info(
      { frame: { text: 'hello secret words', token: 'eyJabc' }, authorization: 'Bearer x' },
      'frame',
    );
    const raw = JSON.stringify(out.lines());
    expect(raw).not.toContain('hello secret words');
    expect(raw).not.toContain('eyJabc');
    expect(raw).not.toContain('Bearer x');
    expect(raw).toContain('[redacted]');
  });

  it('logs errors under err with their stack', () => {
    const out = capture();
    const log = createLogger({ name: 'test', destination: out.stream });
    log.error({ err: new Error('boom') }, 'failed');
    const [line] = out.lines();
    expect((line!.err as { message: string }).message).toBe('boom');
    expect((line!.err as { stack: string }).stack).toContain('Error: boom');
  });
});
