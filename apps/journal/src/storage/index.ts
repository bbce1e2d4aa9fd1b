export { crc32c } from './crc32c';
export {
  CorruptRecordError,
  InvalidArgumentError,
  JournalError,
  JournalErrorCode,
  JournalIoError,
  MessageConflictError,
  ShardDataLostError,
  OffsetOutOfRangeError,
  ShardNotFoundError,
  StoreClosedError,
  StoreLockedError,
} from './errors';
export { isValidShardId } from './layout';
export { DEFAULT_OPTIONS, resolveOptions } from './options';
export type { JournalStoreOptions, ResolvedOptions } from './options';
export { MAX_SESSION_ID_BYTES } from './record';
export type { AppendRecord, JournalRecord } from './record';
export type { DamageReport, ShardRecovery } from './recovery';
export type { AppendResult, JournalStats, ShardInfo } from './shard';
export { JournalStore } from './store';
export type { ReadOptions } from './store';
export {
  ATTR_BATCH_APPENDS,
  ATTR_BATCH_SIZE,
  ATTR_SHARD_ID,
  SPAN_INDEX_UPDATE,
  SPAN_READ,
  SPAN_SEGMENT_APPEND,
  SPAN_SEGMENT_FSYNC,
} from './tracing';
