import { InvalidArgumentError } from './errors';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface JournalStoreOptions {
  /**
   * Size at which the active segment rolls: a batch that would take it past this size goes to a
   * new segment. A single append larger than this gets a segment of its own. Default 128 MiB.
   */
  segmentBytes?: number;
  /** Bytes of records between two sparse index entries. Default 4 KiB. */
  indexIntervalBytes?: number;
  /**
   * How long the first queued append may wait for company before its batch is written.
   * 0 writes as soon as the shard's writer is free. Default 2 ms.
   */
  groupCommitMaxWaitMs?: number;
  /** Upper bound of one batch write (at least one whole append is always taken). Default 4 MiB. */
  groupCommitMaxBytes?: number;
  /** One write and one fsync per append, no batching (for comparison). Default false. */
  fsyncPerAppend?: boolean;
  /** Largest `data` of one record. Default 1 MiB. */
  maxRecordBytes?: number;
  /** Largest encoded size of one append call. Default 8 MiB. */
  maxAppendBytes?: number;
  /** Most records in one append call. Default 10 000. */
  maxAppendRecords?: number;
  /** Sealed segments per shard whose file and index stay open for reads. Default 32. */
  maxOpenSegments?: number;
}

export type ResolvedOptions = Readonly<Required<JournalStoreOptions>>;

export const DEFAULT_OPTIONS: ResolvedOptions = Object.freeze({
  segmentBytes: 128 * MiB,
  indexIntervalBytes: 4 * KiB,
  groupCommitMaxWaitMs: 2,
  groupCommitMaxBytes: 4 * MiB,
  fsyncPerAppend: false,
  maxRecordBytes: 1 * MiB,
  maxAppendBytes: 8 * MiB,
  maxAppendRecords: 10_000,
  maxOpenSegments: 32,
});

// File positions in the index are u32, so a segment (plus one oversize batch) stays below 4 GiB.
const LIMITS: Record<Exclude<keyof JournalStoreOptions, 'fsyncPerAppend'>, [number, number]> = {
  segmentBytes: [1 * KiB, 1 * GiB],
  indexIntervalBytes: [1, 1 * GiB],
  groupCommitMaxWaitMs: [0, 1000],
  groupCommitMaxBytes: [1 * KiB, 256 * MiB],
  maxRecordBytes: [0, 64 * MiB],
  maxAppendBytes: [1 * KiB, 256 * MiB],
  maxAppendRecords: [1, 1_000_000],
  maxOpenSegments: [1, 100_000],
};

/** Fills defaults and checks every option, reporting all problems in one InvalidArgumentError. */
export function resolveOptions(options: JournalStoreOptions = {}): ResolvedOptions {
  const problems: string[] = [];
  const resolved: Record<string, number | boolean> = { ...DEFAULT_OPTIONS };
  for (const [name, [min, max]] of Object.entries(LIMITS)) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
    } else {
      resolved[name] = value;
    }
  }
  if (options.fsyncPerAppend !== undefined) {
    if (typeof options.fsyncPerAppend !== 'boolean')
      problems.push('fsyncPerAppend must be a boolean');
    else resolved.fsyncPerAppend = options.fsyncPerAppend;
  }
  if (problems.length > 0) {
    throw new InvalidArgumentError(`invalid journal options: ${problems.join('; ')}`);
  }
  return Object.freeze(resolved as unknown as Required<JournalStoreOptions>);
}
