import type { FileHandle } from 'node:fs/promises';
import type { Context } from '@opentelemetry/api';
import {
  CorruptRecordError,
  JournalIoError,
  OffsetOutOfRangeError,
  StoreClosedError,
  asJournalError,
} from './errors';
import type { ResolvedOptions } from './options';
import { stampRecord } from './record';
import type { JournalRecord } from './record';
import { createSegment, recoverShard } from './recovery';
import type { ShardRecovery } from './recovery';
import type { ReadCursor, Segment } from './segment';
import { writeAll } from './segment';
import {
  ATTR_APPEND_RECORDS,
  ATTR_BATCH_APPENDS,
  ATTR_BATCH_BYTES,
  ATTR_BATCH_SIZE,
  ATTR_INDEX_ENTRIES,
  ATTR_SEGMENT_BASE,
  ATTR_SHARD_ID,
  SPAN_INDEX_UPDATE,
  SPAN_SEGMENT_APPEND,
  SPAN_SEGMENT_FSYNC,
  emitBatchSpans,
  now,
} from './tracing';
import type { Stage } from './tracing';

/** Where an append landed: record i of the call has offset `firstOffset + i`. */
export interface AppendResult {
  shardId: string;
  firstOffset: number;
  lastOffset: number;
  /** The batch's timestamp, stored in each record (ms since the epoch, never decreasing in a shard). */
  timestamp: number;
}

export interface ShardInfo {
  shardId: string;
  /** Oldest offset held. */
  firstOffset: number;
  /** Offset the next record will get; everything below it is durable. */
  nextOffset: number;
  segmentCount: number;
  /** Durable bytes in all segments. */
  bytes: number;
  /** Timestamp of the last durable record; 0 for an empty shard. */
  lastTimestamp: number;
}

/** Counters since the store was opened. `fsyncs` counts every fsync/fdatasync on the append path. */
export interface JournalStats {
  appends: number;
  records: number;
  bytes: number;
  batches: number;
  fsyncs: number;
  reads: number;
  recordsRead: number;
}

export function emptyStats(): JournalStats {
  return { appends: 0, records: 0, bytes: 0, batches: 0, fsyncs: 0, reads: 0, recordsRead: 0 };
}

/** An append waiting for its batch, with what it needs to report back. */
export interface PendingAppend {
  /** The records, encoded without offsets, timestamps and CRCs. */
  encoded: Buffer;
  records: number;
  context: Context;
  enqueuedAt: number;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

interface Batch {
  appends: PendingAppend[];
  records: number;
  bytes: number;
  roll: boolean;
}

/**
 * One shard: its segments, its durable end, and its writer. Appends queue up; a single writer at
 * a time takes everything queued (up to a byte limit and the room left in the segment), writes it
 * with one vectored write, updates the index, fdatasyncs once and only then resolves every append
 * of the batch. Offsets are assigned in queue order when the batch is formed.
 */
export class Shard {
  readonly stats = emptyStats();
  private nextOffset: number;
  private lastTimestamp: number;
  private readonly queue: PendingAppend[] = [];
  private queuedBytes = 0;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private failure: JournalIoError | undefined;
  private closing = false;
  private idleWaiters: Array<() => void> = [];
  private activeReads = 0;
  private readWaiters: Array<() => void> = [];
  /** Sealed segments with an open file, least recently read first. */
  private readonly openSealed: Segment[] = [];

  private constructor(
    readonly id: string,
    private readonly dir: string,
    private readonly options: ResolvedOptions,
    private readonly segments: Segment[],
    nextOffset: number,
    lastTimestamp: number,
    readonly recovery: ShardRecovery,
  ) {
    this.nextOffset = nextOffset;
    this.lastTimestamp = lastTimestamp;
  }

  /** Opens (recovering if needed) the shard kept in `dir`, creating its first segment if it has none. */
  static async open(dir: string, id: string, options: ResolvedOptions): Promise<Shard> {
    const recovered = await recoverShard(dir, id, options.indexIntervalBytes);
    return new Shard(
      id,
      dir,
      options,
      recovered.segments,
      recovered.nextOffset,
      recovered.lastTimestamp,
      recovered.report,
    );
  }

  /** True once a write or fsync failed: the shard refuses appends until the store is reopened. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1];
  }

  info(): ShardInfo {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.size;
    return {
      shardId: this.id,
      firstOffset: this.segments[0].baseOffset,
      nextOffset: this.nextOffset,
      segmentCount: this.segments.length,
      bytes,
      lastTimestamp: this.lastTimestamp,
    };
  }

  /** Queues an encoded append; resolves once its batch is fsynced. */
  append(encoded: Buffer, records: number, context: Context): Promise<AppendResult> {
    if (this.closing) return Promise.reject(new StoreClosedError());
    if (this.failure) return Promise.reject(this.refusal());
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({
        encoded,
        records,
        context,
        enqueuedAt: performance.now(),
        resolve,
        reject,
      });
      this.queuedBytes += encoded.length;
      this.schedule();
    });
  }

  /**
   * Reads from `from` in offset order across segments, at most `maxRecords` records and, past the
   * first record, at most `maxBytes` of data. Reading at the next offset returns nothing.
   */
  async read(from: number, maxRecords: number, maxBytes: number): Promise<JournalRecord[]> {
    const firstOffset = this.segments[0].baseOffset;
    const end = this.nextOffset;
    if (from < firstOffset || from > end) {
      throw new OffsetOutOfRangeError(this.id, from, firstOffset, end);
    }
    if (from === end) return [];
    this.activeReads++;
    try {
      const cursor: ReadCursor = {
        shardId: this.id,
        next: from,
        end,
        maxRecords,
        maxBytes,
        out: [],
        bytes: 0,
      };
      const chunkBytes = Math.min(Math.max(2 * this.options.indexIntervalBytes, 4096), 1 << 20);
      let i = this.segmentFor(from);
      while (i < this.segments.length && cursor.next < cursor.end) {
        const segment = this.segments[i];
        let more: boolean;
        try {
          more = await segment.read(cursor, chunkBytes);
        } finally {
          if (!segment.isActive) this.touch(segment);
        }
        if (!more) break;
        i++;
        const nextBase = i < this.segments.length ? this.segments[i].baseOffset : cursor.end;
        if (cursor.next < Math.min(nextBase, cursor.end)) {
          if (cursor.out.length > 0) break;
          throw new CorruptRecordError(
            this.id,
            segment.logName,
            cursor.next,
            segment.size,
            'segment ends before this offset',
          );
        }
      }
      this.stats.reads++;
      this.stats.recordsRead += cursor.out.length;
      return cursor.out;
    } catch (err) {
      throw asJournalError(err, `shard "${this.id}": read from offset ${from} failed`);
    } finally {
      this.activeReads--;
      if (this.activeReads === 0) this.notify(this.readWaiters);
    }
  }

  /** Flushes what is queued, waits for reads in progress, completes the index and closes the files. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.schedule();
    await this.idle();
    if (this.activeReads > 0) await new Promise<void>((resolve) => this.readWaiters.push(resolve));
    const results = await Promise.allSettled([
      this.failure ? Promise.resolve() : this.active.seal(),
    ]);
    await Promise.allSettled(this.segments.map((s) => s.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed)
      throw new JournalIoError(`shard "${this.id}": closing failed`, { cause: failed.reason });
  }

  private segmentFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid].baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Marks a sealed segment as recently read and closes the least recent ones beyond the limit. */
  private touch(segment: Segment): void {
    const at = this.openSealed.indexOf(segment);
    if (at >= 0) this.openSealed.splice(at, 1);
    if (segment.isOpen) this.openSealed.push(segment);
    for (
      let i = 0;
      this.openSealed.length > this.options.maxOpenSegments && i < this.openSealed.length;
    ) {
      const candidate = this.openSealed[i];
      const eviction = candidate.evict();
      if (eviction) {
        this.openSealed.splice(i, 1);
        void eviction.catch(() => undefined);
      } else {
        i++;
      }
    }
  }

  private refusal(): JournalIoError {
    return new JournalIoError(
      `shard "${this.id}" refuses appends after an I/O error; reopen the store to recover it`,
      { cause: this.failure },
    );
  }

  private schedule(): void {
    if (this.writing || this.queue.length === 0 || this.immediate) return;
    const full = this.queuedBytes >= this.options.groupCommitMaxBytes;
    const waited = performance.now() - this.queue[0].enqueuedAt;
    const wait = this.options.fsyncPerAppend ? 0 : this.options.groupCommitMaxWaitMs - waited;
    if (wait > 0 && !full && !this.closing) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, wait);
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      void this.flush();
    });
  }

  private idle(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notify(waiters: Array<() => void>): void {
    for (const wake of waiters.splice(0)) wake();
  }

  private async flush(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    try {
      await this.writeBatch(this.takeBatch());
    } finally {
      this.writing = false;
      if (this.failure) {
        for (const pending of this.queue.splice(0)) pending.reject(this.refusal());
        this.queuedBytes = 0;
      }
      if (this.queue.length > 0) this.schedule();
      else this.notify(this.idleWaiters);
    }
  }

  /** Takes queued appends in order, as many as fit the batch limit and the room left in the segment. */
  private takeBatch(): Batch {
    const { segmentBytes, groupCommitMaxBytes, fsyncPerAppend } = this.options;
    const first = this.queue[0];
    let room = segmentBytes - this.active.size;
    const roll = this.active.size > 0 && first.encoded.length > room;
    if (roll) room = segmentBytes;
    const limit = fsyncPerAppend ? 0 : Math.min(groupCommitMaxBytes, room);
    const batch: Batch = { appends: [], records: 0, bytes: 0, roll };
    let taken = 0;
    while (taken < this.queue.length) {
      const next = this.queue[taken];
      if (taken > 0 && batch.bytes + next.encoded.length > limit) break;
      batch.appends.push(next);
      batch.records += next.records;
      batch.bytes += next.encoded.length;
      taken++;
    }
    this.queue.splice(0, taken);
    this.queuedBytes -= batch.bytes;
    return batch;
  }

  /** Writes one batch; never throws: a failure rejects the batch's appends and fails the shard. */
  private async writeBatch(batch: Batch): Promise<void> {
    const stages: Stage[] = [];
    let stage: Stage = { name: SPAN_SEGMENT_APPEND, start: now(), end: 0 };
    try {
      if (batch.roll) await this.roll();
      const segment = this.active;
      const file = segment.writeHandle;
      const start = segment.size;
      const timestamp = Math.max(Date.now(), this.lastTimestamp);
      const interval = this.options.indexIntervalBytes;
      let since = segment.bytesSinceIndexEntry;
      let offset = this.nextOffset;
      let position = start;
      const entries: number[] = [];
      const results: AppendResult[] = [];
      for (const pending of batch.appends) {
        const firstOffset = offset;
        for (let at = 0; at < pending.encoded.length;) {
          if (since >= interval) {
            entries.push(offset - segment.baseOffset, position);
            since = 0;
          }
          const size = stampRecord(pending.encoded, at, offset, timestamp);
          at += size;
          position += size;
          since += size;
          offset++;
        }
        results.push({ shardId: this.id, firstOffset, lastOffset: offset - 1, timestamp });
      }
      await writeBuffers(
        file,
        batch.appends.map((p) => p.encoded),
        start,
        batch.bytes,
      );
      stage.end = now();
      stage.attributes = { [ATTR_SEGMENT_BASE]: segment.baseOffset };
      stages.push(stage);

      stage = { name: SPAN_INDEX_UPDATE, start: stage.end, end: 0 };
      segment.bytesSinceIndexEntry = since;
      await segment.addIndexEntries(entries);
      stage.end = now();
      stage.attributes = { [ATTR_INDEX_ENTRIES]: entries.length / 2 };
      stages.push(stage);

      stage = { name: SPAN_SEGMENT_FSYNC, start: stage.end, end: 0 };
      await file.datasync();
      stage.end = now();
      stages.push(stage);
      this.stats.fsyncs++;

      segment.size = position;
      this.nextOffset = offset;
      this.lastTimestamp = timestamp;
      this.stats.batches++;
      this.stats.appends += batch.appends.length;
      this.stats.records += batch.records;
      this.stats.bytes += batch.bytes;
      const shared = this.batchAttributes(batch);
      batch.appends.forEach((pending, i) => {
        emitBatchSpans(pending.context, stages, {
          ...shared,
          [ATTR_APPEND_RECORDS]: pending.records,
        });
        pending.resolve(results[i]);
      });
    } catch (err) {
      stage.end = now();
      stages.push(stage);
      const message = `shard "${this.id}": ${stage.name} failed: ${(err as Error).message}`;
      this.failure = new JournalIoError(message, { cause: err });
      const shared = this.batchAttributes(batch);
      for (const pending of batch.appends) {
        const error = new JournalIoError(message, { cause: err });
        emitBatchSpans(
          pending.context,
          stages,
          { ...shared, [ATTR_APPEND_RECORDS]: pending.records },
          {
            stage: stage.name,
            error,
          },
        );
        pending.reject(error);
      }
    }
  }

  private batchAttributes(batch: Batch): Record<string, string | number> {
    return {
      [ATTR_SHARD_ID]: this.id,
      [ATTR_BATCH_SIZE]: batch.records,
      [ATTR_BATCH_APPENDS]: batch.appends.length,
      [ATTR_BATCH_BYTES]: batch.bytes,
    };
  }

  /** Seals the active segment (its index fsynced) and starts a new one at the next offset. */
  private async roll(): Promise<void> {
    const previous = this.active;
    await previous.seal();
    this.stats.fsyncs++;
    const segment = await createSegment(this.dir, this.nextOffset);
    this.stats.fsyncs++;
    this.segments.push(segment);
    this.touch(previous);
  }
}

/** One write of several buffers at `position` (vectored), completing short writes. */
async function writeBuffers(
  file: FileHandle,
  buffers: Buffer[],
  position: number,
  total: number,
): Promise<void> {
  if (buffers.length === 1) return writeAll(file, buffers[0], position);
  const { bytesWritten } = await file.writev(buffers, position);
  if (bytesWritten < total) {
    await writeAll(file, Buffer.concat(buffers).subarray(bytesWritten), position + bytesWritten);
  }
}
