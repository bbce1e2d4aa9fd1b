import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import {
  carrierFromContext,
  contextFromCarrier,
  extractHeaders,
  injectHeaders,
  parseTraceparent,
  withSpan,
} from '../src';
import { startTestTracing } from '../src/testing';
import type { TestTracing } from '../src/testing';

const VALID = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('parseTraceparent', () => {
  it('accepts a valid version 00 header and reads the sampled flag', () => {
    expect(parseTraceparent(VALID)).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      sampled: true,
    });
    expect(parseTraceparent(VALID.replace(/-01$/, '-00'))?.sampled).toBe(false);
  });

  it('accepts a future version with extra fields', () => {
    expect(
      parseTraceparent(`cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra`),
    ).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      sampled: true,
    });
  });

  it.each([
    ['version ff', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ['all-zero trace id', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`],
    ['all-zero span id', `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`],
    ['short trace id', '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01'],
    ['long span id', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333100-01'],
    ['upper-case hex', '00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01'],
    ['extra field in version 00', `${VALID}-extra`],
    ['not hex', '00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01'],
    ['empty', ''],
    ['a number', 42],
  ])('refuses %s', (_label, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('contextFromCarrier', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(() => tracing.shutdown());

  it('continues the carrier trace when the traceparent is valid', async () => {
    const ctx = contextFromCarrier({ traceparent: VALID, tracestate: 'vendor=1' });
    const parent = trace.getSpanContext(ctx);
    expect(parent?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(parent?.isRemote).toBe(true);
    expect(parent?.traceState?.get('vendor')).toBe('1');
    const traceId = await withSpan('child', { parent: ctx }, (span) => span.spanContext().traceId);
    expect(traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('starts a new trace for an invalid traceparent', async () => {
    const ctx = contextFromCarrier({ traceparent: VALID.toUpperCase() });
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    const traceId = await withSpan('root', { parent: ctx }, (span) => span.spanContext().traceId);
    expect(traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('round-trips through a carrier and through header maps', async () => {
    await withSpan('producer', {}, () => {
      const active = trace.getActiveSpan()!.spanContext();
      const carrier = carrierFromContext();
      expect(carrier.traceparent).toBe(`00-${active.traceId}-${active.spanId}-01`);
      const headers = new Map<string, string>();
      injectHeaders({ get: (k) => headers.get(k) ?? '', set: (k, v) => headers.set(k, v) });
      const extracted = extractHeaders({
        get: (k) => headers.get(k) ?? '',
        set: () => undefined,
      });
      expect(trace.getSpanContext(extracted)?.spanId).toBe(active.spanId);
    });
    expect(extractHeaders(undefined)).toBe(ROOT_CONTEXT);
  });
});
