import type { FileHandle } from 'node:fs/promises';
import type { IndexEntry } from './offset-index';
import { LENGTH_FIELDS_BYTES, MAX_LENGTH, MIN_RECORD_BYTES, checkRecord, readU64 } from './record';
import type { RecordCheck } from './record';

const EMPTY = Buffer.alloc(0);
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** Reads until `buf` is full or the file ends; returns the bytes read. */
export async function readFully(file: FileHandle, buf: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await file.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * A window of a file, reloaded as reads move past it; never reads at or beyond `limit`. The
 * window doubles at each reload (up to `maxChunkBytes`), so a short read stays short and a long
 * scan soon moves in large reads.
 */
export class ChunkReader {
  buffer: Buffer = EMPTY;
  start = 0;
  end = 0;

  constructor(
    private readonly file: FileHandle,
    public limit: number,
    private chunkBytes = DEFAULT_CHUNK_BYTES,
    private readonly maxChunkBytes = MAX_CHUNK_BYTES,
  ) {}

  /** Makes bytes [pos, pos + len) available; false when they lie beyond the limit or the file. */
  async load(pos: number, len: number): Promise<boolean> {
    if (pos + len > this.limit) return false;
    if (pos >= this.start && pos + len <= this.end) return true;
    const size = Math.min(Math.max(len, this.chunkBytes), this.limit - pos);
    this.chunkBytes = Math.min(this.chunkBytes * 2, this.maxChunkBytes);
    const buffer = Buffer.allocUnsafe(size);
    const read = await readFully(this.file, buffer, pos);
    this.buffer = buffer;
    this.start = pos;
    this.end = pos + read;
    if (read < size) this.limit = this.end;
    return pos + len <= this.end;
  }

  /** Index of file position `pos` in `buffer`. */
  at(pos: number): number {
    return pos - this.start;
  }
}

/** Validates the record at file position `pos`; a record running past the limit is invalid. */
export async function checkAt(reader: ChunkReader, pos: number): Promise<RecordCheck> {
  if (!(await reader.load(pos, LENGTH_FIELDS_BYTES))) {
    return { status: 'invalid', reason: 'truncated record header' };
  }
  let check = checkRecord(reader.buffer, reader.at(pos), reader.end - pos);
  if (check.status === 'short') {
    if (!(await reader.load(pos, check.need)))
      return { status: 'invalid', reason: 'truncated record' };
    check = checkRecord(reader.buffer, reader.at(pos), reader.end - pos);
  }
  return check.status === 'short' ? { status: 'invalid', reason: 'truncated record' } : check;
}

export interface Resync {
  position: number;
  offset: number;
}

/**
 * Looks for the first valid record after a damaged one at `damagedAt`, which should have held
 * offset `expected`. A candidate must pass its CRC and carry an offset that the bytes in between
 * could account for (at least `expected`, at most one more per smallest record skipped), so
 * random bytes are practically never taken for a record. Undefined when nothing valid follows.
 */
export async function findNextValid(
  reader: ChunkReader,
  damagedAt: number,
  expected: number,
): Promise<Resync | undefined> {
  let pos = damagedAt + 1;
  while (pos + MIN_RECORD_BYTES <= reader.limit) {
    if (!(await reader.load(pos, Math.min(reader.limit - pos, DEFAULT_CHUNK_BYTES))))
      return undefined;
    const buf = reader.buffer;
    const stop = reader.end - 16;
    let candidate = -1;
    for (; pos <= stop; pos++) {
      const i = pos - reader.start;
      const length = buf.readUInt32BE(i);
      if (length < MIN_RECORD_BYTES - LENGTH_FIELDS_BYTES || length > MAX_LENGTH) continue;
      if (pos + LENGTH_FIELDS_BYTES + length > reader.limit) continue;
      const offset = readU64(buf, i + 8);
      if (offset < expected || offset > expected + 1 + (pos - damagedAt) / MIN_RECORD_BYTES)
        continue;
      candidate = offset;
      break;
    }
    if (candidate < 0) continue;
    const check = await checkAt(reader, pos);
    if (check.status === 'ok' && check.offset === candidate)
      return { position: pos, offset: candidate };
    pos++;
  }
  return undefined;
}

/** A damaged stretch of a segment with valid records after it. */
export interface DamagedRange {
  position: number;
  /** First offset lost in the damage. */
  offset: number;
  resumePosition: number;
  resumeOffset: number;
  reason: string;
}

export interface ScanResult {
  /** Position just after the last valid record. */
  end: number;
  /** Offset after the last valid record; the start offset when there is none. */
  nextOffset: number;
  lastTimestamp: number;
  records: number;
  /** Index entries for the records scanned, by the same rule the writer uses. */
  entries: IndexEntry[];
  bytesSinceEntry: number;
  damaged: DamagedRange[];
  /** Why the scan stopped before the limit, if it did: the torn tail's first problem. */
  tail?: string;
}

/**
 * Walks a segment from `start` (a known record boundary) to the reader's limit, validating every
 * record and the offset sequence. A damaged record followed by a valid one is recorded in
 * `damaged` and skipped; a damaged record with nothing valid after it ends the scan (a torn tail).
 */
export async function scanSegment(
  reader: ChunkReader,
  baseOffset: number,
  start: IndexEntry,
  indexIntervalBytes: number,
): Promise<ScanResult> {
  const result: ScanResult = {
    end: start.position,
    nextOffset: baseOffset + start.relativeOffset,
    lastTimestamp: 0,
    records: 0,
    entries: [],
    bytesSinceEntry: 0,
    damaged: [],
  };
  let pos = start.position;
  let expected = baseOffset + start.relativeOffset;
  while (pos < reader.limit) {
    const check = await checkAt(reader, pos);
    if (check.status === 'ok' && check.offset === expected) {
      if (result.bytesSinceEntry >= indexIntervalBytes) {
        result.entries.push({ relativeOffset: expected - baseOffset, position: pos });
        result.bytesSinceEntry = 0;
      }
      result.bytesSinceEntry += check.size;
      result.lastTimestamp = check.timestamp;
      result.records++;
      pos += check.size;
      expected++;
      result.end = pos;
      result.nextOffset = expected;
      continue;
    }
    const reason =
      check.status === 'ok'
        ? `offset ${check.offset} where ${expected} was expected`
        : check.status === 'invalid'
          ? check.reason
          : 'truncated record';
    const resync = await findNextValid(reader, pos, expected);
    if (!resync) {
      result.tail = reason;
      break;
    }
    result.damaged.push({
      position: pos,
      offset: expected,
      resumePosition: resync.position,
      resumeOffset: resync.offset,
      reason,
    });
    pos = resync.position;
    expected = resync.offset;
  }
  return result;
}
