import type { FileHandle } from 'node:fs/promises';
import type { AppendResult, JournalStore } from '../src/storage';
import { fileHandlePrototype, openStore, records, tempDir } from './fixtures/storage-kit';

let dir: string;
let cleanup: () => Promise<void>;
let store: JournalStore | undefined;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  jest.restoreAllMocks();
  await store?.close();
  store = undefined;
  await cleanup();
});

/** Every file write and fdatasync the engine issues, in completion order. */
interface IoEvent {
  kind: 'write' | 'sync';
  handle: FileHandle;
  /** For writes: the bytes written. */
  bytes?: Buffer;
  /** For syncs: the event count when it was issued. */
  issuedAt?: number;
}

async function recordIo(): Promise<IoEvent[]> {
  const events: IoEvent[] = [];
  const proto = await fileHandlePrototype();
  const write = proto.write;
  const writev = proto.writev;
  const datasync = proto.datasync;
  jest.spyOn(proto, 'write').mockImplementation(async function (
    this: FileHandle,
    ...args: unknown[]
  ) {
    const result = await (write as (...a: unknown[]) => Promise<{ bytesWritten: number }>).apply(
      this,
      args,
    );
    const buffer = args[0] as Buffer;
    const start = typeof args[1] === 'number' ? args[1] : 0;
    events.push({
      kind: 'write',
      handle: this,
      bytes: buffer.subarray(start, start + result.bytesWritten),
    });
    return result as never;
  });
  jest.spyOn(proto, 'writev').mockImplementation(async function (
    this: FileHandle,
    ...args: unknown[]
  ) {
    const result = await (writev as (...a: unknown[]) => Promise<{ bytesWritten: number }>).apply(
      this,
      args,
    );
    const bytes = Buffer.concat(args[0] as Buffer[]).subarray(0, result.bytesWritten);
    events.push({ kind: 'write', handle: this, bytes });
    return result as never;
  });
  jest.spyOn(proto, 'datasync').mockImplementation(async function (this: FileHandle) {
    const issuedAt = events.length;
    await datasync.call(this);
    events.push({ kind: 'sync', handle: this, issuedAt });
  });
  return events;
}

/** True when the bytes were written and then fdatasynced (sync issued after the write completed) before `seen` events. */
function durableBefore(events: IoEvent[], marker: Buffer, seen: number): boolean {
  for (let w = 0; w < seen; w++) {
    const write = events[w];
    if (write.kind !== 'write' || write.bytes!.indexOf(marker) < 0) continue;
    for (let s = w + 1; s < seen; s++) {
      const sync = events[s];
      if (sync.kind === 'sync' && sync.handle === write.handle && sync.issuedAt! > w) return true;
    }
  }
  return false;
}

describe('group commit', () => {
  it('32 concurrent appenders — dense unique offsets per shard, fsyncs far below appends, each append acked after its fsync', async () => {
    store = await openStore(dir);
    const events = await recordIo();
    const shards = ['0', '1'];
    const perAppender = 8;
    const acks: Array<{ shard: string; result: AppendResult; records: number }> = [];
    const notDurable: string[] = [];

    await Promise.all(
      Array.from({ length: 32 }, async (_, appender) => {
        let last = -1;
        for (let n = 0; n < perAppender; n++) {
          const shard = shards[(appender + n) % 2];
          const count = 1 + ((appender + n) % 3);
          const marks = Array.from({ length: count }, (_, k) => `[a${appender}-n${n}-r${k}]`);
          const result = await store!.append(shard, records(`session-${appender}`, ...marks));
          const seen = events.length;
          for (const mark of marks) {
            if (!durableBefore(events, Buffer.from(mark), seen)) notDurable.push(mark);
          }
          expect(store!.info(shard).nextOffset).toBeGreaterThan(result.lastOffset);
          if (shard === shards[0]) {
            expect(result.firstOffset).toBeGreaterThan(last);
            last = result.lastOffset;
          }
          expect(result.lastOffset - result.firstOffset + 1).toBe(count);
          acks.push({ shard, result, records: count });
        }
      }),
    );

    expect(notDurable).toEqual([]);
    for (const shard of shards) {
      const offsets = acks
        .filter((a) => a.shard === shard)
        .flatMap((a) => Array.from({ length: a.records }, (_, k) => a.result.firstOffset + k))
        .sort((a, b) => a - b);
      expect(offsets).toEqual([...Array(offsets.length).keys()]);
      expect(store.info(shard).nextOffset).toBe(offsets.length);
      const read = await store.read(shard, 0, { maxRecords: 10_000 });
      expect(read.map((r) => r.offset)).toEqual(offsets);
    }
    const stats = store.stats();
    expect(stats.appends).toBe(32 * perAppender);
    expect(stats.records).toBe(acks.reduce((sum, a) => sum + a.records, 0));
    expect(stats.batches).toBeLessThanOrEqual(stats.appends / 4);
    expect(stats.fsyncs).toBeLessThanOrEqual(stats.appends / 4);
    expect(stats.fsyncs).toBe(events.filter((e) => e.kind === 'sync').length);
  });

  it('one write per batch — appends sharing a batch go to disk in a single write call', async () => {
    store = await openStore(dir, { groupCommitMaxWaitMs: 20 });
    await store.createShard('s');
    const events = await recordIo();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store!.append('s', records('x', `m${i}`))),
    );
    expect(store.stats()).toMatchObject({ appends: 10, batches: 1, fsyncs: 1 });
    const logWrites = events.filter((e) => e.kind === 'write' && e.bytes!.includes('m0'));
    expect(logWrites).toHaveLength(1);
    for (let i = 0; i < 10; i++) expect(logWrites[0].bytes!.includes(`m${i}`)).toBe(true);
  });

  it('fsyncPerAppend — every append gets its own write and fsync', async () => {
    store = await openStore(dir, { fsyncPerAppend: true });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store!.append('s', records('x', `m${i}`))),
    );
    expect(store.stats()).toMatchObject({ appends: 20, batches: 20, fsyncs: 20 });
    expect((await store.read('s', 0)).map((r) => r.data.toString())).toEqual(
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
  });

  it('groupCommitMaxWaitMs 0 — concurrent appends still share fsyncs while the writer is busy', async () => {
    store = await openStore(dir, { groupCommitMaxWaitMs: 0 });
    await Promise.all(
      Array.from({ length: 64 }, (_, i) => store!.append('s', records('x', `m${i}`))),
    );
    const stats = store.stats();
    expect(stats.appends).toBe(64);
    expect(stats.fsyncs).toBeLessThanOrEqual(16);
  });

  it('max wait — a later append joins the batch of one still waiting for company', async () => {
    store = await openStore(dir, { groupCommitMaxWaitMs: 300 });
    await store.createShard('s');
    const first = store.append('s', records('x', 'early'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = store.append('s', records('x', 'late'));
    expect((await Promise.all([first, second])).map((r) => r.firstOffset)).toEqual([0, 1]);
    expect(store.stats()).toMatchObject({ appends: 2, batches: 1 });
  });

  it('groupCommitMaxBytes — a batch stops at the byte limit, the rest follows in later batches', async () => {
    store = await openStore(dir, { groupCommitMaxBytes: 1024, groupCommitMaxWaitMs: 50 });
    const big = 'x'.repeat(300);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => store!.append('s', records('x', big))),
    );
    expect(results.map((r) => r.firstOffset)).toEqual([...Array(12).keys()]);
    const stats = store.stats();
    expect(stats.batches).toBeGreaterThanOrEqual(4);
    expect(stats.bytes / stats.batches).toBeLessThanOrEqual(1024);
  });
});
