import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptRecordError } from './errors';
import { INDEX_SUFFIX, LOG_SUFFIX, segmentStem } from './layout';
import { INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index';
import { decodeRecord } from './record';
import type { JournalRecord } from './record';
import { ChunkReader, checkAt, findNextValid } from './scan';

/** A read in progress across segments; segments append to `out` and advance `next`. */
export interface ReadCursor {
  shardId: string;
  /** Next offset wanted. */
  next: number;
  /** Offset after the last durable record when the read started. */
  end: number;
  maxRecords: number;
  maxBytes: number;
  out: JournalRecord[];
  bytes: number;
}

/**
 * One segment: `<base>.log` with its records and `<base>.index` with the sparse offset index.
 * Sealed segments open their log and load their index on demand; the active one keeps both open
 * for the shard's writer.
 */
export class Segment {
  readonly stem: string;
  readonly logPath: string;
  readonly indexPath: string;
  /** Bytes readers may see; in the active segment, everything written and fsynced. */
  size: number;
  /** In memory while the segment is active or recently read. */
  index: OffsetIndex | undefined;

  /** Active segment only: record bytes written since the last index entry. */
  bytesSinceIndexEntry = 0;

  /** Active segment only: the open index file and how many entries it holds. */
  private indexFile: FileHandle | undefined;
  private indexEntriesOnDisk = 0;
  private log: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  private loadingIndex: Promise<OffsetIndex> | undefined;
  private readers = 0;

  constructor(
    dir: string,
    readonly baseOffset: number,
    size: number,
  ) {
    this.stem = segmentStem(baseOffset);
    this.logPath = join(dir, this.stem + LOG_SUFFIX);
    this.indexPath = join(dir, this.stem + INDEX_SUFFIX);
    this.size = size;
  }

  get logName(): string {
    return this.stem + LOG_SUFFIX;
  }

  get isActive(): boolean {
    return this.indexFile !== undefined;
  }

  /** Makes this the segment the writer appends to. */
  activate(
    log: FileHandle,
    indexFile: FileHandle,
    index: OffsetIndex,
    bytesSinceIndexEntry: number,
  ): void {
    this.log = log;
    this.opening = undefined;
    this.indexFile = indexFile;
    this.index = index;
    this.indexEntriesOnDisk = index.length;
    this.bytesSinceIndexEntry = bytesSinceIndexEntry;
  }

  /** The log file for the writer (active segment only). */
  get writeHandle(): FileHandle {
    if (!this.log || !this.indexFile) throw new Error(`segment ${this.stem} is not active`);
    return this.log;
  }

  /**
   * Adds index entries (pairs of relative offset, position) for records just written and writes
   * them to the index file, without fsync: a lost tail of the index is rebuilt by recovery.
   */
  async addIndexEntries(pairs: readonly number[]): Promise<void> {
    const index = this.index;
    if (!index) throw new Error(`segment ${this.stem} has no index loaded`);
    for (let i = 0; i < pairs.length; i += 2) index.add(pairs[i], pairs[i + 1]);
    await this.writeIndexTail();
  }

  /** Writes index entries not yet in the index file, without fsync. */
  private async writeIndexTail(): Promise<void> {
    const index = this.index;
    const file = this.indexFile;
    if (!index || !file || this.indexEntriesOnDisk === index.length) return;
    const from = this.indexEntriesOnDisk;
    await writeAll(file, index.encode(from, index.length), from * INDEX_ENTRY_BYTES);
    this.indexEntriesOnDisk = index.length;
  }

  /** Ends the active role: the index file is completed, fsynced and closed; the log stays open for reads. */
  async seal(): Promise<void> {
    const file = this.indexFile;
    if (!file) return;
    await this.writeIndexTail();
    await file.datasync();
    this.indexFile = undefined;
    await file.close();
  }

  /**
   * Reads records into `cursor` from `cursor.next`. Returns true when this segment is exhausted
   * (the caller moves on), false when the cursor is satisfied. A damaged record at the wanted
   * offset ends the read: it throws CorruptRecordError when nothing was read yet, otherwise it
   * returns what precedes the damage.
   */
  async read(cursor: ReadCursor, chunkBytes: number): Promise<boolean> {
    const file = await this.acquire();
    try {
      const index = this.index ?? (await this.loadIndex());
      const entry = index.lookup(cursor.next - this.baseOffset);
      const reader = new ChunkReader(file, this.size, chunkBytes);
      let pos = entry.position;
      let expected = this.baseOffset + entry.relativeOffset;
      while (pos < reader.limit && cursor.next < cursor.end) {
        const check = await checkAt(reader, pos);
        if (check.status === 'ok' && check.offset === expected) {
          if (expected >= cursor.next) {
            const record = decodeRecord(reader.buffer, reader.at(pos), check.size);
            if (cursor.out.length > 0 && cursor.bytes + record.data.length > cursor.maxBytes)
              return false;
            cursor.out.push(record);
            cursor.bytes += record.data.length;
            cursor.next = expected + 1;
            if (cursor.out.length >= cursor.maxRecords || cursor.bytes >= cursor.maxBytes)
              return false;
          }
          pos += check.size;
          expected++;
          continue;
        }
        const reason =
          check.status === 'ok'
            ? `offset ${check.offset} where ${expected} was expected`
            : check.status === 'invalid'
              ? check.reason
              : 'truncated record';
        const resync = await findNextValid(reader, pos, expected);
        if (!resync || resync.offset > cursor.next) {
          if (cursor.out.length > 0) return false;
          throw new CorruptRecordError(cursor.shardId, this.logName, cursor.next, pos, reason);
        }
        pos = resync.position;
        expected = resync.offset;
      }
      return cursor.next < cursor.end;
    } finally {
      this.readers--;
    }
  }

  /**
   * Closes the file and drops the index of a sealed segment nobody is reading; undefined (and
   * nothing done) when the segment is active, being read or not open.
   */
  evict(): Promise<void> | undefined {
    if (this.isActive || this.readers > 0 || !this.log) return undefined;
    const log = this.log;
    this.log = undefined;
    this.opening = undefined;
    this.index = undefined;
    this.loadingIndex = undefined;
    return log.close();
  }

  get isOpen(): boolean {
    return this.log !== undefined;
  }

  async close(): Promise<void> {
    const file = this.indexFile;
    this.indexFile = undefined;
    const log = this.log ?? (this.opening ? await this.opening.catch(() => undefined) : undefined);
    this.log = undefined;
    this.opening = undefined;
    await Promise.all([file?.close(), log?.close()]);
  }

  private async acquire(): Promise<FileHandle> {
    this.readers++;
    try {
      if (this.log) return this.log;
      this.opening ??= open(this.logPath, 'r');
      const log = await this.opening;
      this.log = log;
      return log;
    } catch (err) {
      this.readers--;
      this.opening = undefined;
      throw err;
    }
  }

  /** A sealed segment's index; a missing or damaged file yields the valid prefix (reads stay correct, only slower). */
  private loadIndex(): Promise<OffsetIndex> {
    this.loadingIndex ??= readFile(this.indexPath)
      .then(
        (bytes) => OffsetIndex.decode(bytes, this.size).index,
        () => new OffsetIndex(),
      )
      .then((index) => {
        this.index = index;
        return index;
      });
    return this.loadingIndex;
  }
}

/** Writes all of `bytes` at `position`, looping over short writes. */
export async function writeAll(file: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}
