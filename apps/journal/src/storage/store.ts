import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { context } from '@opentelemetry/api';
import {
  InvalidArgumentError,
  OffsetOutOfRangeError,
  ShardNotFoundError,
  StoreClosedError,
  asJournalError,
} from './errors';
import { SHARDS_DIR, assertShardId, fsyncDirectory, isValidShardId } from './layout';
import { lockDirectory } from './lock';
import type { DirectoryLock } from './lock';
import { resolveOptions } from './options';
import type { JournalStoreOptions, ResolvedOptions } from './options';
import { MAX_SESSION_ID_BYTES, encodeRecords, recordBytes } from './record';
import type { AppendRecord, JournalRecord } from './record';
import type { ShardRecovery } from './recovery';
import { Shard, emptyStats } from './shard';
import type { AppendResult, JournalStats, ShardInfo } from './shard';
import { ATTR_READ_FROM, ATTR_SHARD_ID, tracedRead } from './tracing';

export interface ReadOptions {
  /** Most records returned. Default 1000. */
  maxRecords?: number;
  /** Most bytes of `data` returned; the first record is returned whatever its size. Default 1 MiB. */
  maxBytes?: number;
}

const DEFAULT_MAX_RECORDS = 1000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const OPEN_CONCURRENCY = 8;

/**
 * The journal's storage engine: one append-only log per shard under
 * `<dataDir>/shards/<shardId>/`, with group commit and crash recovery.
 *
 * Open it with `JournalStore.open`; shards found on disk are recovered before it resolves, and
 * new shards are created by their first append (or `createShard`). `close()` finishes the
 * appends already accepted, waits for reads in progress and releases the directory.
 */
export class JournalStore {
  private readonly shards = new Map<string, Shard>();
  private readonly creating = new Map<string, Promise<Shard>>();
  private readonly recoveries: ShardRecovery[] = [];
  private closing: Promise<void> | undefined;
  private handoffs = 0;
  private readonly handoffWaiters: Array<() => void> = [];

  private constructor(
    readonly dataDir: string,
    readonly options: ResolvedOptions,
    private readonly lock: DirectoryLock,
  ) {}

  /**
   * Opens (creating if needed) a data directory, taking its lock and recovering every shard in it.
   * Throws InvalidArgumentError for bad options, StoreLockedError when another live process
   * holds the directory, and JournalIoError when the directory or a shard cannot be read.
   */
  static async open(dataDir: string, options: JournalStoreOptions = {}): Promise<JournalStore> {
    const resolved = resolveOptions(options);
    const shardsDir = join(dataDir, SHARDS_DIR);
    let lock: DirectoryLock;
    try {
      if (await mkdir(shardsDir, { recursive: true })) await fsyncDirectory(dataDir);
      lock = await lockDirectory(dataDir);
    } catch (err) {
      throw asJournalError(err, `cannot open journal directory ${dataDir}`);
    }
    const store = new JournalStore(dataDir, resolved, lock);
    try {
      const ids = (await readdir(shardsDir, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory() && isValidShardId(entry.name))
        .map((entry) => entry.name)
        .sort();
      for (let i = 0; i < ids.length; i += OPEN_CONCURRENCY) {
        const opened = await Promise.allSettled(
          ids.slice(i, i + OPEN_CONCURRENCY).map((id) => store.openShard(id)),
        );
        const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      }
    } catch (err) {
      await store.close().catch(() => undefined);
      throw asJournalError(err, `cannot open journal directory ${dataDir}`);
    }
    return store;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Appends records to a shard (created on first use) and resolves once they are durable, with
   * the offset of the first and last record. Rejects with InvalidArgumentError for a bad shard id,
   * an empty batch, a record that is not `{ sessionId, data }`, a session id of 0 or more than
   * 1024 UTF-8 bytes, or limits exceeded (`maxRecordBytes`, `maxAppendBytes`, `maxAppendRecords`);
   * nothing is written then. Rejects with JournalIoError when the write or fsync fails.
   */
  async append(shardId: string, records: readonly AppendRecord[]): Promise<AppendResult> {
    const parent = context.active();
    this.assertOpen();
    assertShardId(shardId);
    const encoded = this.encode(records);
    const shard = this.shards.get(shardId);
    if (shard) return shard.append(encoded, records.length, parent);
    // Accepted while its shard is being created: close() waits until it is queued.
    this.handoffs++;
    let appended: Promise<AppendResult>;
    try {
      appended = (await this.shardFor(shardId)).append(encoded, records.length, parent);
    } finally {
      if (--this.handoffs === 0) for (const wake of this.handoffWaiters.splice(0)) wake();
    }
    return appended;
  }

  /**
   * Reads records of a shard from `fromOffset` in offset order, across segments. Reading at the
   * shard's next offset returns an empty list. Throws ShardNotFoundError, OffsetOutOfRangeError
   * (negative, below the first or beyond the next offset), InvalidArgumentError (non-integer
   * offset, bad limits) and CorruptRecordError when the record at the wanted offset is damaged;
   * a read that reaches damage after returning some records stops there, and the next read fails.
   */
  async read(
    shardId: string,
    fromOffset: number,
    options: ReadOptions = {},
  ): Promise<JournalRecord[]> {
    this.assertOpen();
    assertShardId(shardId);
    const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      throw new InvalidArgumentError(
        `maxRecords must be a positive integer, got ${String(maxRecords)}`,
      );
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new InvalidArgumentError(
        `maxBytes must be a positive integer, got ${String(maxBytes)}`,
      );
    }
    if (typeof fromOffset !== 'number' || !Number.isInteger(fromOffset)) {
      throw new InvalidArgumentError(`offset must be an integer, got ${String(fromOffset)}`);
    }
    const shard = this.shards.get(shardId);
    if (!shard) throw new ShardNotFoundError(shardId);
    if (fromOffset < 0) {
      const { firstOffset, nextOffset } = shard.info();
      throw new OffsetOutOfRangeError(shardId, fromOffset, firstOffset, nextOffset);
    }
    return tracedRead(
      { [ATTR_SHARD_ID]: shardId, [ATTR_READ_FROM]: fromOffset },
      (records) => records.reduce((sum, r) => sum + r.data.length, 0),
      () => shard.read(fromOffset, maxRecords, maxBytes),
    );
  }

  /** Creates a shard if it does not exist yet; either way returns its info. */
  async createShard(shardId: string): Promise<ShardInfo> {
    this.assertOpen();
    assertShardId(shardId);
    return (await this.shardFor(shardId)).info();
  }

  hasShard(shardId: string): boolean {
    return this.shards.has(shardId);
  }

  /** Ids of the shards open in this store, sorted. */
  listShards(): string[] {
    return [...this.shards.keys()].sort();
  }

  /** Ids of the shards that failed a write or fsync and refuse appends until the store reopens. */
  failedShards(): string[] {
    return [...this.shards.values()].filter((s) => s.failed).map((s) => s.id);
  }

  /** Offsets and size of a shard; throws ShardNotFoundError for an unknown one. */
  info(shardId: string): ShardInfo {
    this.assertOpen();
    assertShardId(shardId);
    const shard = this.shards.get(shardId);
    if (!shard) throw new ShardNotFoundError(shardId);
    return shard.info();
  }

  /** Counters since open, for one shard or summed over all. */
  stats(shardId?: string): JournalStats {
    if (shardId !== undefined) {
      const shard = this.shards.get(shardId);
      if (!shard) throw new ShardNotFoundError(shardId);
      return { ...shard.stats };
    }
    const total = emptyStats();
    for (const shard of this.shards.values()) {
      for (const key of Object.keys(total) as Array<keyof JournalStats>)
        total[key] += shard.stats[key];
    }
    return total;
  }

  /** What opening each shard found and repaired (torn tails cut, indexes rebuilt, damage seen). */
  recovery(): readonly ShardRecovery[] {
    return [...this.recoveries];
  }

  /** Finishes accepted appends, waits for reads, closes every file and releases the directory. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.handoffs > 0)
        await new Promise<void>((resolve) => this.handoffWaiters.push(resolve));
      await Promise.allSettled(this.creating.values());
      const results = await Promise.allSettled([...this.shards.values()].map((s) => s.close()));
      await this.lock.release();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreClosedError();
  }

  private encode(records: readonly AppendRecord[]): Buffer {
    const { maxAppendRecords, maxAppendBytes, maxRecordBytes } = this.options;
    if (!Array.isArray(records) || records.length === 0) {
      throw new InvalidArgumentError('an append needs at least one record');
    }
    if (records.length > maxAppendRecords) {
      throw new InvalidArgumentError(
        `an append holds at most ${maxAppendRecords} records, got ${records.length}`,
      );
    }
    const idBytes: number[] = new Array<number>(records.length);
    let total = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as Partial<AppendRecord> | null;
      if (!record || typeof record.sessionId !== 'string' || !(record.data instanceof Uint8Array)) {
        throw new InvalidArgumentError(`record ${i} must be { sessionId: string, data: Buffer }`);
      }
      const bytes = Buffer.byteLength(record.sessionId, 'utf8');
      if (bytes === 0 || bytes > MAX_SESSION_ID_BYTES) {
        throw new InvalidArgumentError(
          `record ${i}: session id must be 1-${MAX_SESSION_ID_BYTES} UTF-8 bytes, got ${bytes}`,
        );
      }
      if (record.data.length > maxRecordBytes) {
        throw new InvalidArgumentError(
          `record ${i}: data of ${record.data.length} bytes exceeds maxRecordBytes ${maxRecordBytes}`,
        );
      }
      idBytes[i] = bytes;
      total += recordBytes(bytes, record.data.length);
    }
    if (total > maxAppendBytes) {
      throw new InvalidArgumentError(
        `append of ${total} bytes exceeds maxAppendBytes ${maxAppendBytes}`,
      );
    }
    return encodeRecords(records, idBytes, total);
  }

  /** The open shard, or the one being created for it (created once however many ask). */
  private async shardFor(shardId: string): Promise<Shard> {
    const shard = this.shards.get(shardId);
    if (shard) return shard;
    let pending = this.creating.get(shardId);
    if (!pending) {
      pending = this.openShard(shardId, true).finally(() => this.creating.delete(shardId));
      this.creating.set(shardId, pending);
    }
    return pending;
  }

  private async openShard(shardId: string, create = false): Promise<Shard> {
    const shardsDir = join(this.dataDir, SHARDS_DIR);
    const dir = join(shardsDir, shardId);
    let shard: Shard;
    try {
      if (create) {
        await mkdir(dir, { recursive: true });
        await fsyncDirectory(shardsDir);
      }
      shard = await Shard.open(dir, shardId, this.options);
    } catch (err) {
      throw asJournalError(err, `shard "${shardId}": opening failed`);
    }
    this.shards.set(shardId, shard);
    this.recoveries.push(shard.recovery);
    return shard;
  }
}
