import { randomBytes } from 'node:crypto';
import { readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { CorruptRecordError } from '../src/storage';
import type { JournalStore, JournalStoreOptions } from '../src/storage';
import {
  appendBytes,
  appendSequential,
  dataOf,
  fileSize,
  flipByte,
  openStore,
  recordSize,
  segmentFile,
  tempDir,
} from './fixtures/storage-kit';

const OPTIONS: JournalStoreOptions = { indexIntervalBytes: 256 };
const COUNT = 40;
const SIZE = recordSize('session-1', 32);

let dir: string;
let cleanup: () => Promise<void>;
let store: JournalStore | undefined;
let log: string;
let index: string;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  log = segmentFile(dir, 's', 0, 'log');
  index = segmentFile(dir, 's', 0, 'index');
});

afterEach(async () => {
  await store?.close();
  store = undefined;
  await cleanup();
});

/** A shard "s" with COUNT records of SIZE bytes in one segment, closed. */
async function writeShard(options: JournalStoreOptions = OPTIONS, count = COUNT): Promise<void> {
  const writer = await openStore(dir, options);
  await appendSequential(writer, 's', count);
  await writer.close();
}

async function reopen(options: JournalStoreOptions = OPTIONS): Promise<JournalStore> {
  store = await openStore(dir, options);
  return store;
}

async function expectRecords(from: number, to: number): Promise<void> {
  const read = await store!.read('s', from, { maxRecords: 10_000 });
  expect(read.map((r) => r.offset)).toEqual(Array.from({ length: to - from }, (_, i) => from + i));
  for (const r of read) expect(r.data.equals(dataOf(r.offset))).toBe(true);
}

/** The next append lands at `expected` and reads back. */
async function expectContinuesAt(expected: number): Promise<void> {
  const { firstOffset } = await store!.append('s', [
    { sessionId: 'session-1', data: Buffer.from('next') },
  ]);
  expect(firstOffset).toBe(expected);
  expect(store!.info('s').nextOffset).toBe(expected + 1);
  const [record] = await store!.read('s', expected);
  expect(record.data.toString()).toBe('next');
}

describe('recovery — torn tail', () => {
  it.each([
    ['mid-payload', 30],
    ['mid-header', 5],
    ['after the length field only', 4],
  ])(
    'a last record cut %s is dropped; earlier records stay, the next offset has no gap',
    async (_what, keep) => {
      await writeShard();
      await truncate(log, (COUNT - 1) * SIZE + keep);
      await reopen();
      expect(store!.recovery()).toEqual([
        expect.objectContaining({ shardId: 's', nextOffset: COUNT - 1, truncatedBytes: keep }),
      ]);
      expect(await fileSize(log)).toBe((COUNT - 1) * SIZE);
      await expectRecords(0, COUNT - 1);
      await expectContinuesAt(COUNT - 1);
    },
  );

  it('garbage appended after the last record is dropped', async () => {
    await writeShard();
    await appendBytes(log, randomBytes(700));
    await reopen();
    expect(store!.recovery()[0]).toMatchObject({ nextOffset: COUNT, truncatedBytes: 700 });
    await expectRecords(0, COUNT);
    await expectContinuesAt(COUNT);
  });

  it('a cut record followed by garbage is dropped with the garbage', async () => {
    await writeShard();
    await truncate(log, (COUNT - 1) * SIZE + 30);
    await appendBytes(log, randomBytes(300));
    await reopen();
    expect(store!.recovery()[0]).toMatchObject({ nextOffset: COUNT - 1, truncatedBytes: 330 });
    await expectRecords(0, COUNT - 1);
    await expectContinuesAt(COUNT - 1);
  });

  it('zeros and a plausible-looking header at the tail are dropped', async () => {
    await writeShard();
    const fake = Buffer.alloc(200);
    fake.writeUInt32BE(60, 0);
    fake.writeUInt32BE(0, 8);
    fake.writeUInt32BE(COUNT, 12);
    await appendBytes(log, Buffer.concat([Buffer.alloc(64), fake]));
    await reopen();
    expect(store!.recovery()[0]).toMatchObject({ nextOffset: COUNT, truncatedBytes: 264 });
    await expectContinuesAt(COUNT);
  });

  it('a damaged last record with nothing valid after it counts as a torn tail', async () => {
    await writeShard();
    await flipByte(log, (COUNT - 1) * SIZE + 40);
    await reopen();
    expect(store!.recovery()[0]).toMatchObject({ nextOffset: COUNT - 1, truncatedBytes: SIZE });
    expect(store!.recovery()[0].tailReason).toMatch(/CRC32C/);
    await expectContinuesAt(COUNT - 1);
  });

  it('a torn tail right after a segment roll leaves an empty active segment at the right base', async () => {
    const options = { ...OPTIONS, segmentBytes: 1024 };
    const perSegment = Math.floor(1024 / SIZE);
    await writeShard(options, perSegment + 5);
    const lastLog = segmentFile(dir, 's', perSegment, 'log');
    await truncate(lastLog, 0);
    await appendBytes(lastLog, randomBytes(50));
    await reopen(options);
    expect(store!.info('s')).toMatchObject({ segmentCount: 2, nextOffset: perSegment });
    expect(await fileSize(lastLog)).toBe(0);
    await expectRecords(0, perSegment);
    await expectContinuesAt(perSegment);
  });
});

describe('recovery — index', () => {
  let original: Buffer;

  beforeEach(async () => {
    await writeShard();
    original = await readFile(index);
    // An entry at the first record boundary at least 256 bytes past the previous one.
    expect(original.length / 8).toBe(Math.floor((COUNT - 1) / Math.ceil(256 / SIZE)));
  });

  it('a missing index is rebuilt', async () => {
    await unlink(index);
    await reopen();
    expect(store!.recovery()[0]).toMatchObject({
      rebuiltIndexes: 1,
      truncatedBytes: 0,
      nextOffset: COUNT,
    });
    expect((await readFile(index)).equals(original)).toBe(true);
    await expectRecords(17, COUNT);
    await expectContinuesAt(COUNT);
  });

  it('a stale, shorter index is completed', async () => {
    await truncate(index, 8 * 2 + 3);
    await reopen();
    expect(store!.recovery()[0]).toMatchObject({ rebuiltIndexes: 1, nextOffset: COUNT });
    expect((await readFile(index)).equals(original)).toBe(true);
    await expectRecords(30, COUNT);
  });

  it('a stale index pointing at the wrong positions is rebuilt', async () => {
    const wrong = Buffer.alloc(original.length);
    for (let i = 0; i < wrong.length / 8; i++) {
      wrong.writeUInt32BE(i + 1, i * 8);
      wrong.writeUInt32BE((i + 1) * 50, i * 8 + 4);
    }
    await writeFile(index, wrong);
    await reopen();
    expect(store!.recovery()[0]).toMatchObject({ rebuiltIndexes: 1, nextOffset: COUNT });
    expect((await readFile(index)).equals(original)).toBe(true);
    await expectRecords(0, COUNT);
  });

  it('index entries beyond a shortened log are dropped', async () => {
    await truncate(log, 20 * SIZE);
    await reopen();
    expect(store!.info('s').nextOffset).toBe(20);
    const rebuilt = await readFile(index);
    const expected = Math.floor(19 / Math.ceil(256 / SIZE));
    expect(rebuilt.equals(original.subarray(0, expected * 8))).toBe(true);
    await expectRecords(0, 20);
    await expectContinuesAt(20);
  });

  it('a missing index of a sealed segment is rebuilt', async () => {
    await cleanup();
    ({ dir, cleanup } = await tempDir());
    const options = { ...OPTIONS, segmentBytes: 2048 };
    await writeShard(options, 100);
    const sealed = segmentFile(dir, 's', 0, 'index');
    const before = await readFile(sealed);
    expect(before.length).toBeGreaterThan(0);
    await unlink(sealed);
    await reopen(options);
    expect(store!.recovery()[0]).toMatchObject({ rebuiltIndexes: 1, nextOffset: 100 });
    expect((await readFile(sealed)).equals(before)).toBe(true);
    await expectRecords(13, 100);
  });

  it('an orphan index without its log is removed', async () => {
    const orphan = segmentFile(dir, 's', 12345, 'index');
    await writeFile(orphan, Buffer.alloc(16));
    await reopen();
    expect(store!.recovery()[0].removedFiles).toEqual([orphan]);
    expect(store!.info('s').segmentCount).toBe(1);
  });
});

describe('recovery — corruption in the middle of a segment', () => {
  async function expectCorruptAt(offset: number): Promise<void> {
    const err = await store!.read('s', offset).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptRecordError);
    expect(err).toMatchObject({
      code: 'CORRUPT_RECORD',
      name: 'CorruptRecordError',
      shardId: 's',
      offset,
    });
    expect((err as Error).message).toContain('shard "s"');
    expect((err as Error).message).toContain('00000000000000000000.log');
    expect((err as Error).message).toContain(`offset ${offset}`);
  }

  // Recovery re-validates the tail after the last index entry (all of it when the index is
  // missing), so it sees damage there; damage before it is left for reads to find.
  const FIELDS: Array<[string, number]> = [
    ['a payload byte', 50],
    ['the CRC field', 5],
    ['the length field', 0],
  ];
  const PLACES: Array<[string, number, boolean]> = [
    ['a middle record', 20, false],
    ['a middle record, index missing', 20, true],
    ['a record in the re-validated tail', COUNT - 3, false],
  ];
  const cases = FIELDS.flatMap(([field, at]) =>
    PLACES.map(([place, offset, dropIndex]) => [field, place, at, offset, dropIndex] as const),
  );

  it.each(cases)(
    'flipping %s of %s — kept, reported when scanned, reading it fails, the rest stays readable',
    async (_field, _place, at, offset, dropIndex) => {
      await writeShard();
      const sizeBefore = await fileSize(log);
      await flipByte(log, offset * SIZE + at);
      if (dropIndex) await unlink(index);
      await reopen();
      const scanned = dropIndex || offset > COUNT - 4;
      expect(store!.recovery()[0]).toMatchObject({
        nextOffset: COUNT,
        truncatedBytes: 0,
        damaged: scanned
          ? [
              {
                segment: '00000000000000000000.log',
                offset,
                position: offset * SIZE,
                reason: expect.any(String),
              },
            ]
          : [],
      });
      expect(await fileSize(log)).toBe(sizeBefore);

      await expectCorruptAt(offset);
      const before = await store!.read('s', 0, { maxRecords: 1000 });
      expect(before.map((r) => r.offset)).toEqual([...Array(offset).keys()]);
      for (const from of [offset + 1, offset + 2]) await expectRecords(from, COUNT);
      await expectContinuesAt(COUNT);
    },
  );

  it('damage written while the store is open is caught on read', async () => {
    await writeShard();
    await reopen();
    await flipByte(log, 10 * SIZE + 40);
    await expectCorruptAt(10);
    await expectRecords(11, COUNT);
  });

  it('damage in a sealed segment is reported with that segment', async () => {
    const options = { ...OPTIONS, segmentBytes: 2048 };
    await writeShard(options, 100);
    await flipByte(log, 5 * SIZE + 40);
    await reopen(options);
    await expectCorruptAt(5);
    expect((await store!.read('s', 0)).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    await expectRecords(6, 100);
    await expectContinuesAt(100);
  });
});
