import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { startTestTracing } from '@tracechat/telemetry/testing';
import type { TestTracing } from '@tracechat/telemetry/testing';
import type { JournalStore } from '../src/storage';
import { fileHandlePrototype, openStore, records, tempDir } from './fixtures/storage-kit';

let tracing: TestTracing;
let dir: string;
let cleanup: () => Promise<void>;
let store: JournalStore | undefined;

beforeAll(() => {
  tracing = startTestTracing();
});

afterAll(() => tracing.shutdown());

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  tracing.reset();
});

afterEach(async () => {
  jest.restoreAllMocks();
  await store?.close();
  store = undefined;
  await cleanup();
});

const STAGES = ['journal.segment.append', 'journal.index.update', 'journal.segment.fsync'];

/**
 * Runs `fn` under a fresh `journal.write` span, as the service does for each append RPC; its
 * value or its error is returned for the test to assert (never both, never swallowed).
 */
async function underParent<T>(
  fn: () => Promise<T>,
): Promise<{ parent: Span; result?: T; error?: unknown }> {
  const parent = trace.getTracer('test').startSpan('journal.write');
  try {
    return { parent, result: await context.with(trace.setSpan(context.active(), parent), fn) };
  } catch (error) {
    return { parent, error };
  } finally {
    parent.end();
  }
}

function childrenOf(parent: Span) {
  const { spanId, traceId } = parent.spanContext();
  return tracing.exporter
    .getFinishedSpans()
    .filter((s) => s.parentSpanContext?.spanId === spanId)
    .map((s) => {
      expect(s.spanContext().traceId).toBe(traceId);
      return s;
    });
}

describe('storage spans', () => {
  it('two appends from two traces sharing one fsync — each gets its own append, index and fsync spans', async () => {
    store = await openStore(dir, { groupCommitMaxWaitMs: 50 });
    await store.createShard('7');
    const [a, b] = await Promise.all([
      underParent(() => store!.append('7', records('session-a', 'secret-text-a', 'secret-text-b'))),
      underParent(() => store!.append('7', records('session-b', 'secret-text-c'))),
    ]);
    expect([a.error, b.error]).toEqual([undefined, undefined]);
    expect(store.stats()).toMatchObject({ appends: 2, batches: 1, fsyncs: 1 });
    expect(a.parent.spanContext().traceId).not.toBe(b.parent.spanContext().traceId);

    const kids = [childrenOf(a.parent), childrenOf(b.parent)];
    for (const [i, spans] of kids.entries()) {
      expect(spans.map((s) => s.name).sort()).toEqual([...STAGES].sort());
      for (const span of spans) {
        expect(span.attributes).toMatchObject({
          'chat.shard.id': '7',
          'journal.batch.size': 3,
          'journal.batch.appends': 2,
          'journal.append.records': i === 0 ? 2 : 1,
        });
        expect(JSON.stringify(span.attributes)).not.toContain('secret-text');
        expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
      }
      const [append, index, fsync] = STAGES.map((name) => spans.find((s) => s.name === name)!);
      const ms = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;
      expect(ms(append.endTime)).toBeLessThanOrEqual(ms(index.startTime) + 0.001);
      expect(ms(index.endTime)).toBeLessThanOrEqual(ms(fsync.startTime) + 0.001);
      expect(ms(fsync.endTime)).toBeGreaterThanOrEqual(ms(fsync.startTime));
    }
    // One shared fsync, shown in both traces with the same times.
    const fsyncs = kids.map((spans) => spans.find((s) => s.name === 'journal.segment.fsync')!);
    expect(fsyncs[0].startTime).toEqual(fsyncs[1].startTime);
    expect(fsyncs[0].endTime).toEqual(fsyncs[1].endTime);
    expect(fsyncs[0].spanContext().spanId).not.toBe(fsyncs[1].spanContext().spanId);
  });

  it('appends outside any trace create no spans', async () => {
    store = await openStore(dir);
    await store.append('7', records('s', 'x'));
    await store.read('7', 0);
    expect(tracing.exporter.getFinishedSpans()).toEqual([]);
  });

  it('a read gets a journal.read span with shard, start offset and record count', async () => {
    store = await openStore(dir);
    await store.append('7', records('s', 'a', 'b', 'c'));
    const { parent, result, error } = await underParent(() => store!.read('7', 1));
    expect(error).toBeUndefined();
    expect(result).toHaveLength(2);
    const [read] = childrenOf(parent);
    expect(read.name).toBe('journal.read');
    expect(read.attributes).toMatchObject({
      'chat.shard.id': '7',
      'journal.read.from_offset': 1,
      'journal.read.record_count': 2,
      'journal.read.bytes': 2,
    });
  });

  it('a failed read marks its span as an error', async () => {
    store = await openStore(dir);
    await store.append('7', records('s', 'a'));
    const { parent, result, error } = await underParent(() => store!.read('7', 5));
    expect(result).toBeUndefined();
    expect(error).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    const [read] = childrenOf(parent);
    expect(read.status.code).toBe(SpanStatusCode.ERROR);
    expect(read.attributes['error.type']).toBe('OFFSET_OUT_OF_RANGE');
  });

  it('a failed fsync is recorded on the fsync span of every append that shared it', async () => {
    store = await openStore(dir, { groupCommitMaxWaitMs: 50 });
    await store.createShard('7');
    const proto = await fileHandlePrototype();
    jest.spyOn(proto, 'datasync').mockRejectedValueOnce(new Error('EIO'));
    const both = await Promise.all([
      underParent(() => store!.append('7', records('a', 'x'))),
      underParent(() => store!.append('7', records('b', 'y'))),
    ]);
    for (const { parent, error } of both) {
      expect(error).toMatchObject({ code: 'IO_ERROR' });
      const spans = childrenOf(parent);
      expect(spans.map((s) => s.name).sort()).toEqual([...STAGES].sort());
      const fsync = spans.find((s) => s.name === 'journal.segment.fsync')!;
      expect(fsync.status.code).toBe(SpanStatusCode.ERROR);
      expect(fsync.events.map((e) => e.name)).toEqual(['exception']);
      expect(spans.find((s) => s.name === 'journal.segment.append')!.status.code).not.toBe(
        SpanStatusCode.ERROR,
      );
    }
  });
});
