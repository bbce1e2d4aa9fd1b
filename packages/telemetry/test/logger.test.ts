import { createLogger, withSpan } from '../src';
import { startTestTracing } from '../src/testing';
import type { TestTracing } from '../src/testing';
import { captureLog } from './log-capture';

describe('createLogger', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(() => tracing.shutdown());

  it('puts trace_id and span_id on every line written inside a span', async () => {
    const out = captureLog();
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
    const out = captureLog();
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
    const out = captureLog();
    const log = createLogger({ name: 'test', destination: out.stream });
    log.error({ err: new Error('boom') }, 'failed');
    const [line] = out.lines();
    expect((line!.err as { message: string }).message).toBe('boom');
    expect((line!.err as { stack: string }).stack).toContain('Error: boom');
  });
});

describe('createLogger and secrets in errors', () => {
  it('hides the password of a URL in an error message, its stack and the log message', () => {
    const out = captureLog();
    const log = createLogger({ name: 'test', destination: out.stream });
    const err = new Error('getaddrinfo ENOTFOUND for postgres://bob:pw-in-url@db.internal/chat');
    log.error({ err }, 'cannot reach redis://:pw-in-msg@cache:6379');
    const raw = JSON.stringify(out.lines());
    expect(raw).not.toContain('pw-in-url');
    expect(raw).not.toContain('pw-in-msg');
    expect(raw).toContain('postgres://bob:***@db.internal/chat');
    expect(raw).toContain('redis://:***@cache:6379');
  });

  it('drops the arguments of a failed Redis command (ioredis puts AUTH user and password there)', () => {
    const out = captureLog();
    const log = createLogger({ name: 'test', destination: out.stream });
    const err = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      command: { name: 'auth', args: ['bob', 'redis-password-1'] },
    });
    log.warn({ err }, 'redis error');
    const [line] = out.lines();
    expect(JSON.stringify(line)).not.toContain('redis-password-1');
    expect((line!.err as { command: unknown }).command).toEqual({ name: 'auth', args: '***' });
  });

  it('drops password and connectionString fields of an error, and of its cause', () => {
    const out = captureLog();
    const log = createLogger({ name: 'test', destination: out.stream });
    const cause = Object.assign(new Error('inner'), { connectionString: 'postgres://a:cs-pw@h/d' });
    const err = Object.assign(new Error('outer', { cause }), { password: 'field-pw' });
    log.error({ err }, 'failed');
    const raw = JSON.stringify(out.lines());
    expect(raw).not.toContain('cs-pw');
    expect(raw).not.toContain('field-pw');
  });
});

describe('createLogger and URLs in fields', () => {
  it('hides the credentials of a URL logged as any field', () => {
    const out = captureLog();
    const log = createLogger({ name: 'test', destination: out.stream });
    log.info({ target: { url: 'nats://alice:field-url-pw@nats:4222' } }, 'connecting');
    const [line] = out.lines();
    expect(line!.target).toEqual({ url: 'nats://alice:***@nats:4222' });
  });
});
