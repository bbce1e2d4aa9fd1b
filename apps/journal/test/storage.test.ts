import { existsSync } from 'node:fs';
import { readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import {
  CorruptRecordError,
  JournalError,
  JournalIoError,
  JournalStore,
  OffsetOutOfRangeError,
  ShardNotFoundError,
  StoreClosedError,
  crc32c,
} from '../src/storage';
import {
  appendSequential,
  codeOf,
  dataOf,
  fileHandlePrototype,
  fileSize,
  openStore,
  recordSize,
  records,
  segmentFile,
  shardPath,
  syncCodeOf,
  tempDir,
} from './fixtures/storage-kit';

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

describe('crc32c', () => {
  it('matches the Castagnoli check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    const bytes = Buffer.from('a longer input that crosses several eight-byte blocks');
    expect(crc32c(bytes, 11, bytes.length, crc32c(bytes, 0, 11))).toBe(crc32c(bytes));
  });
});

describe('journal store — append and read', () => {
  it('round trip — records come back with their offsets, session ids, bytes and timestamps', async () => {
    store = await openStore(dir);
    const before = Date.now();
    const first = await store.append('7', records('session-a', 'one', 'two'));
    const second = await store.append('7', [
      { sessionId: 'séance-b', data: Buffer.from([0, 1, 2, 255]) },
    ]);
    const empty = await store.append('7', [{ sessionId: 'session-a', data: Buffer.alloc(0) }]);

    expect(first).toMatchObject({ shardId: '7', firstOffset: 0, lastOffset: 1 });
    expect(second).toMatchObject({ firstOffset: 2, lastOffset: 2 });
    expect(empty).toMatchObject({ firstOffset: 3, lastOffset: 3 });
    const read = await store.read('7', 0);
    expect(read.map((r) => [r.offset, r.sessionId, r.data.toString('hex')])).toEqual([
      [0, 'session-a', Buffer.from('one').toString('hex')],
      [1, 'session-a', Buffer.from('two').toString('hex')],
      [2, 'séance-b', '000102ff'],
      [3, 'session-a', ''],
    ]);
    for (const r of read) expect(r.timestamp).toBeGreaterThanOrEqual(before);
    expect(read[0].timestamp).toBe(first.timestamp);
    expect(read[3].timestamp).toBeGreaterThanOrEqual(read[2].timestamp);
    expect(store.info('7')).toEqual({
      shardId: '7',
      firstOffset: 0,
      nextOffset: 4,
      segmentCount: 1,
      bytes: await fileSize(segmentFile(dir, '7', 0, 'log')),
      lastTimestamp: empty.timestamp,
    });
  });

  it('copies appended bytes — changing the buffer after append does not change the record', async () => {
    store = await openStore(dir, { groupCommitMaxWaitMs: 20 });
    const data = Buffer.from('original');
    const pending = store.append('s', [{ sessionId: 'x', data }]);
    data.write('mutated!');
    await pending;
    expect((await store.read('s', 0))[0].data.toString()).toBe('original');
  });

  it('records on disk — big-endian header, CRC32C over offset, timestamp and payload', async () => {
    store = await openStore(dir);
    const { timestamp } = await store.append('s', records('abc', 'xyz', 'hello'));
    await store.close();
    const log = await readFile(segmentFile(dir, 's', 0, 'log'));
    expect(log.length).toBe(recordSize('abc', 3) + recordSize('abc', 5));
    const second = recordSize('abc', 3);
    expect(log.readUInt32BE(second)).toBe(recordSize('abc', 5) - 8);
    expect(log.readUInt32BE(second + 4)).toBe(crc32c(log, second + 8, log.length));
    expect(log.readBigUInt64BE(second + 8)).toBe(1n);
    expect(log.readBigUInt64BE(second + 16)).toBe(BigInt(timestamp));
    expect(log.readUInt16BE(second + 24)).toBe(3);
    expect(log.toString('utf8', second + 26)).toBe('abchello');
  });

  it('segment rolls — offsets continue across segment files named by base offset', async () => {
    store = await openStore(dir, { segmentBytes: 1024, indexIntervalBytes: 128 });
    await appendSequential(store, 's', 120, 40);
    const info = store.info('s');
    expect(info.nextOffset).toBe(120);
    expect(info.segmentCount).toBeGreaterThan(4);

    const logs = (await readdir(shardPath(dir, 's'))).filter((f) => f.endsWith('.log')).sort();
    expect(logs).toHaveLength(info.segmentCount);
    expect(logs[0]).toBe('00000000000000000000.log');
    const perSegment = Math.floor(1024 / recordSize('session-1', 40));
    expect(logs[1]).toBe(`${String(perSegment).padStart(20, '0')}.log`);
    for (const log of logs) {
      expect(existsSync(`${shardPath(dir, 's')}/${log.replace('.log', '.index')}`)).toBe(true);
      expect(await fileSize(`${shardPath(dir, 's')}/${log}`)).toBeLessThanOrEqual(1024);
    }

    const all = [];
    for (let from = 0; from < 120;) {
      const page = await store.read('s', from, { maxRecords: 17 });
      expect(page.length).toBeGreaterThan(0);
      all.push(...page);
      from = page[page.length - 1].offset + 1;
    }
    expect(all.map((r) => r.offset)).toEqual([...Array(120).keys()]);
    expect(all.every((r, i) => r.data.equals(dataOf(i, 40)))).toBe(true);

    await store.close();
    store = await openStore(dir, { segmentBytes: 1024, indexIntervalBytes: 128 });
    expect(store.info('s')).toMatchObject({ nextOffset: 120, segmentCount: info.segmentCount });
    expect((await store.read('s', 0, { maxRecords: 500 })).map((r) => r.offset)).toEqual([
      ...Array(120).keys(),
    ]);
    expect((await store.append('s', records('z', 'after'))).firstOffset).toBe(120);
  });

  it('sealed segments — at most maxOpenSegments stay open after reads, and reads still cover them all', async () => {
    const options = { segmentBytes: 1024, indexIntervalBytes: 128, maxOpenSegments: 2 };
    store = await openStore(dir, options);
    await appendSequential(store, 's', 150, 40);
    await store.close();
    store = await openStore(dir, options);
    expect(store.info('s').segmentCount).toBeGreaterThan(6);
    const openFiles = async () => {
      const fds = await readdir('/proc/self/fd');
      const targets = await Promise.all(
        fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
      );
      return targets.filter((t) => t.startsWith(shardPath(dir, 's'))).length;
    };
    for (let round = 0; round < 2; round++) {
      const pages = await Promise.all(
        [0, 30, 60, 90, 120].map((from) => store!.read('s', from, { maxRecords: 30 })),
      );
      expect(pages.flat().map((r) => r.offset)).toEqual([...Array(150).keys()]);
      // The active segment's log and index, plus at most two sealed logs.
      expect(await openFiles()).toBeLessThanOrEqual(4);
    }
  });

  it('read limits — maxRecords and maxBytes bound a read; the first record always comes back', async () => {
    store = await openStore(dir);
    await appendSequential(store, 's', 20, 100);
    expect(await store.read('s', 5, { maxRecords: 3 })).toHaveLength(3);
    const byBytes = await store.read('s', 0, { maxBytes: 350 });
    expect(byBytes.map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(await store.read('s', 4, { maxBytes: 1 })).toHaveLength(1);
    expect((await store.read('s', 18)).map((r) => r.offset)).toEqual([18, 19]);
  });

  it('index seek — a read from the middle of a segment reads near its offset, not the whole file', async () => {
    store = await openStore(dir, { indexIntervalBytes: 1024 });
    const length = 200;
    for (let i = 0; i < 2000; i += 100) {
      await store.append(
        's',
        Array.from({ length: 100 }, (_, k) => ({
          sessionId: 'session-1',
          data: dataOf(i + k, length),
        })),
      );
    }
    const logSize = await fileSize(segmentFile(dir, 's', 0, 'log'));
    const indexSize = await fileSize(segmentFile(dir, 's', 0, 'index'));
    // An entry at the first record boundary at least 1024 bytes past the previous one.
    const size = recordSize('session-1', length);
    expect(logSize).toBe(2000 * size);
    expect(indexSize / 8).toBe(Math.floor(1999 / Math.ceil(1024 / size)));

    const proto = await fileHandlePrototype();
    const reads: Array<{ position: number; length: number }> = [];
    const original = proto.read;
    jest.spyOn(proto, 'read').mockImplementation(function (this: unknown, ...args: unknown[]) {
      reads.push({ position: args[3] as number, length: args[2] as number });
      return (original as (...a: unknown[]) => unknown).apply(this, args) as never;
    });
    const page = await store.read('s', 1500, { maxRecords: 3 });

    expect(page.map((r) => [r.offset, r.data.equals(dataOf(r.offset, length))])).toEqual([
      [1500, true],
      [1501, true],
      [1502, true],
    ]);
    const recordAt1500 = 1500 * size;
    expect(Math.min(...reads.map((r) => r.position))).toBeGreaterThan(
      recordAt1500 - 1024 - length - 26,
    );
    expect(reads.reduce((sum, r) => sum + r.length, 0)).toBeLessThan(16 * 1024);
  });

  it('reading at the next offset returns nothing; beyond it or below 0 is OFFSET_OUT_OF_RANGE', async () => {
    store = await openStore(dir);
    await appendSequential(store, 's', 3);
    expect(await store.read('s', 3)).toEqual([]);
    const beyond = await store.read('s', 4).catch((err: unknown) => err);
    expect(beyond).toBeInstanceOf(OffsetOutOfRangeError);
    expect(beyond).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', name: 'OffsetOutOfRangeError' });
    expect(await codeOf(store.read('s', -1))).toBe('OFFSET_OUT_OF_RANGE');
    expect(await codeOf(store.read('s', 1.5))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.read('s', Number.NaN))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.read('s', 0, { maxRecords: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.read('s', 0, { maxBytes: -5 }))).toBe('INVALID_ARGUMENT');
  });

  it('shards — created on first append or createShard, listed, and found again after reopening', async () => {
    store = await openStore(dir);
    expect(store.listShards()).toEqual([]);
    await Promise.all([
      store.append('shard-7', records('a', '1')),
      store.append('shard-7', records('a', '2')),
    ]);
    await store.append('7', records('a', '1'));
    expect(await store.createShard('empty_1')).toMatchObject({
      firstOffset: 0,
      nextOffset: 0,
      segmentCount: 1,
    });
    expect(await store.createShard('7')).toMatchObject({ nextOffset: 1 });
    expect(store.listShards()).toEqual(['7', 'empty_1', 'shard-7']);
    expect(store.hasShard('7')).toBe(true);
    expect(store.hasShard('8')).toBe(false);
    await store.close();

    store = await openStore(dir);
    expect(store.listShards()).toEqual(['7', 'empty_1', 'shard-7']);
    expect(store.info('shard-7').nextOffset).toBe(2);
    expect(store.info('empty_1').nextOffset).toBe(0);
    expect(await store.read('empty_1', 0)).toEqual([]);
  });

  it('unknown shards — read, info and stats report SHARD_NOT_FOUND', async () => {
    store = await openStore(dir);
    const err = await store.read('nope', 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShardNotFoundError);
    expect(err).toMatchObject({
      code: 'SHARD_NOT_FOUND',
      name: 'ShardNotFoundError',
      shardId: 'nope',
    });
    expect(syncCodeOf(() => store!.info('nope'))).toBe('SHARD_NOT_FOUND');
    expect(syncCodeOf(() => store!.stats('nope'))).toBe('SHARD_NOT_FOUND');
  });
});

describe('journal store — bad input', () => {
  it('bad appends are refused with INVALID_ARGUMENT and write nothing', async () => {
    store = await openStore(dir, {
      maxRecordBytes: 1000,
      maxAppendBytes: 4096,
      maxAppendRecords: 10,
    });
    await store.append('s', records('a', 'kept'));
    const logPath = segmentFile(dir, 's', 0, 'log');
    const sizeBefore = await fileSize(logPath);

    const bad: Array<[string, unknown]> = [
      ['empty batch', []],
      ['not an array', { sessionId: 'a', data: Buffer.from('x') }],
      ['oversize record', [{ sessionId: 'a', data: Buffer.alloc(1001) }]],
      [
        'oversize batch',
        Array.from({ length: 5 }, () => ({ sessionId: 'a', data: Buffer.alloc(900) })),
      ],
      [
        'too many records',
        Array.from({ length: 11 }, () => ({ sessionId: 'a', data: Buffer.alloc(1) })),
      ],
      ['empty session id', [{ sessionId: '', data: Buffer.from('x') }]],
      ['long session id', [{ sessionId: 'x'.repeat(1025), data: Buffer.from('x') }]],
      ['string data', [{ sessionId: 'a', data: 'text' }]],
      ['valid then invalid', [{ sessionId: 'a', data: Buffer.from('x') }, null]],
    ];
    for (const [what, batch] of bad) {
      const err = await store.append('s', batch as never).catch((e: unknown) => e);
      expect([what, (err as JournalError).code, (err as JournalError).name]).toEqual([
        what,
        'INVALID_ARGUMENT',
        'InvalidArgumentError',
      ]);
    }
    expect(store.info('s').nextOffset).toBe(1);
    expect(await fileSize(logPath)).toBe(sizeBefore);
    expect(store.stats()).toMatchObject({ appends: 1, records: 1 });
  });

  it('bad shard ids are refused before touching the disk', async () => {
    store = await openStore(dir);
    for (const id of [
      '',
      '../escape',
      'a/b',
      '.',
      '..',
      'x'.repeat(65),
      'ümlaut',
      'a b',
      7 as unknown as string,
    ]) {
      expect([id, await codeOf(store.append(id, records('a', 'x')))]).toEqual([
        id,
        'INVALID_ARGUMENT',
      ]);
      expect([id, await codeOf(store.read(id, 0))]).toEqual([id, 'INVALID_ARGUMENT']);
      expect([id, await codeOf(store.createShard(id))]).toEqual([id, 'INVALID_ARGUMENT']);
    }
    expect(await readdir(`${dir}/shards`)).toEqual([]);
    expect(existsSync(`${dir}/escape`)).toBe(false);
  });

  it('bad options are reported together', async () => {
    const err = await JournalStore.open(dir, { segmentBytes: 10, groupCommitMaxWaitMs: -1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((err as Error).message).toMatch(/segmentBytes.*groupCommitMaxWaitMs/);
  });
});

describe('journal store — lifecycle', () => {
  it('close — finishes appends already accepted, then refuses everything with STORE_CLOSED', async () => {
    store = await openStore(dir, { groupCommitMaxWaitMs: 200 });
    const pending = Array.from({ length: 10 }, (_, i) => store!.append('s', records('a', `m${i}`)));
    await store.close();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.firstOffset)).toEqual([...Array(10).keys()]);

    const err = await store.append('s', records('a', 'late')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreClosedError);
    expect(err).toMatchObject({ code: 'STORE_CLOSED' });
    expect(await codeOf(store.read('s', 0))).toBe('STORE_CLOSED');
    expect(syncCodeOf(() => store!.info('s'))).toBe('STORE_CLOSED');
    await store.close();

    store = await openStore(dir);
    expect((await store.read('s', 0)).map((r) => r.data.toString())).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
  });

  it('lock — a second store on the same directory is refused until the first closes', async () => {
    store = await openStore(dir);
    const err = await JournalStore.open(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORE_LOCKED', name: 'StoreLockedError' });
    await store.close();
    store = await openStore(dir);
    expect(store.closed).toBe(false);
  });

  it('lock — a LOCK left by a dead process is taken over; one held by a live process is refused', async () => {
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(`${dir}/LOCK`, `${dead}\n`);
    store = await openStore(dir);
    expect(await readFile(`${dir}/LOCK`, 'utf8')).toBe(`${process.pid}\n`);
    await store.close();
    expect(existsSync(`${dir}/LOCK`)).toBe(false);

    await writeFile(`${dir}/LOCK`, `${process.ppid}\n`);
    const err = await JournalStore.open(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORE_LOCKED', holderPid: process.ppid });
  });

  it('I/O failure — a failed fsync rejects the batch with IO_ERROR (cause kept) and stops appends until reopen', async () => {
    store = await openStore(dir);
    await store.append('s', records('a', 'durable'));
    const proto = await fileHandlePrototype();
    const failure = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const spy = jest.spyOn(proto, 'datasync').mockRejectedValueOnce(failure);

    const [a, b] = await Promise.all([
      store.append('s', records('a', 'lost?')).catch((e: unknown) => e),
      store.append('s', records('a', 'lost?')).catch((e: unknown) => e),
    ]);
    for (const err of [a, b]) {
      expect(err).toBeInstanceOf(JournalIoError);
      expect(err).toMatchObject({ code: 'IO_ERROR', name: 'JournalIoError', cause: failure });
    }
    expect(a).not.toBe(b);
    const refused = await store.append('s', records('a', 'refused')).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'IO_ERROR' });
    expect((refused as Error).cause).toBeInstanceOf(JournalIoError);
    expect(store.info('s').nextOffset).toBe(1);
    expect((await store.read('s', 0)).map((r) => r.data.toString())).toEqual(['durable']);
    spy.mockRestore();
    await store.close();

    // What a failed fsync left behind may or may not be on disk; offsets stay dense either way.
    store = await openStore(dir);
    const next = store.info('s').nextOffset;
    expect([1, 3]).toContain(next);
    expect((await store.append('s', records('a', 'again'))).firstOffset).toBe(next);
    expect((await store.read('s', 0, { maxRecords: 10 })).map((r) => r.offset)).toEqual([
      ...Array(next + 1).keys(),
    ]);
  });

  it('error classes — stable codes and names, all JournalErrors', () => {
    const corrupt = new CorruptRecordError(
      '7',
      '00000000000000000000.log',
      12,
      345,
      'CRC32C mismatch',
    );
    expect(corrupt).toBeInstanceOf(JournalError);
    expect(corrupt).toMatchObject({
      code: 'CORRUPT_RECORD',
      name: 'CorruptRecordError',
      offset: 12,
    });
    expect(corrupt.message).toContain('shard "7"');
    expect(corrupt.message).toContain('00000000000000000000.log');
    expect(corrupt.message).toContain('offset 12');
    const cause = new Error('disk');
    expect(new JournalIoError('write failed', { cause }).cause).toBe(cause);
  });
});
