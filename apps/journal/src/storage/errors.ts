/** Stable error codes of the journal engine; the service maps them to gRPC status codes. */
export const JournalErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  SHARD_NOT_FOUND: 'SHARD_NOT_FOUND',
  OFFSET_OUT_OF_RANGE: 'OFFSET_OUT_OF_RANGE',
  CORRUPT_RECORD: 'CORRUPT_RECORD',
  STORE_CLOSED: 'STORE_CLOSED',
  STORE_LOCKED: 'STORE_LOCKED',
  IO_ERROR: 'IO_ERROR',
  /** A client_msg_id was used before, in the same session by the same sender, with another text. */
  CONFLICT: 'CONFLICT',
  /** The shard holds fewer records than were already projected from it: its data was lost. */
  DATA_LOST: 'DATA_LOST',
} as const;
export type JournalErrorCode = (typeof JournalErrorCode)[keyof typeof JournalErrorCode];

export class JournalError extends Error {
  override readonly name: string = 'JournalError';
  constructor(
    readonly code: JournalErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A malformed request: bad shard id, empty or oversize batch, bad read limits, bad options. */
export class InvalidArgumentError extends JournalError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string, options?: ErrorOptions) {
    super(JournalErrorCode.INVALID_ARGUMENT, message, options);
  }
}

export class ShardNotFoundError extends JournalError {
  override readonly name = 'ShardNotFoundError';
  constructor(readonly shardId: string) {
    super(JournalErrorCode.SHARD_NOT_FOUND, `journal shard "${shardId}" does not exist`);
  }
}

/** A read below the shard's first offset or beyond its next offset. */
export class OffsetOutOfRangeError extends JournalError {
  override readonly name = 'OffsetOutOfRangeError';
  constructor(
    readonly shardId: string,
    readonly offset: number,
    readonly firstOffset: number,
    readonly nextOffset: number,
  ) {
    super(
      JournalErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${offset} is outside shard "${shardId}" (valid: ${firstOffset}..${nextOffset})`,
    );
  }
}

/** A stored record that fails its checks (length, CRC32C, offset); never served as data. */
export class CorruptRecordError extends JournalError {
  override readonly name = 'CorruptRecordError';
  constructor(
    readonly shardId: string,
    readonly segment: string,
    readonly offset: number,
    readonly position: number,
    readonly reason: string,
  ) {
    super(
      JournalErrorCode.CORRUPT_RECORD,
      `corrupt record in shard "${shardId}", segment ${segment}, offset ${offset} ` +
        `(file position ${position}): ${reason}`,
    );
  }
}

export class StoreClosedError extends JournalError {
  override readonly name = 'StoreClosedError';
  constructor() {
    super(JournalErrorCode.STORE_CLOSED, 'the journal store is closed');
  }
}

/** Another live process (or another store in this process) holds the data directory. */
export class StoreLockedError extends JournalError {
  override readonly name = 'StoreLockedError';
  constructor(
    readonly dataDir: string,
    readonly holderPid: number | undefined,
  ) {
    super(
      JournalErrorCode.STORE_LOCKED,
      `journal data directory ${dataDir} is in use` +
        (holderPid === undefined ? ' by this process' : ` by process ${holderPid}`),
    );
  }
}

/**
 * A failed read, write or fsync. After a failed write or fsync the shard refuses appends until
 * the store is reopened, because what reached the disk is unknown until recovery looks.
 */
export class JournalIoError extends JournalError {
  override readonly name = 'JournalIoError';
  constructor(message: string, options?: ErrorOptions) {
    super(JournalErrorCode.IO_ERROR, message, options);
  }
}

/** `err` itself when it is a JournalError, otherwise a JournalIoError saying what was being done. */
export function asJournalError(err: unknown, doing: string): JournalError {
  if (err instanceof JournalError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new JournalIoError(`${doing}: ${reason}`, { cause: err });
}

/** A client_msg_id reused with another text (same session, same sender). */
export class MessageConflictError extends JournalError {
  override readonly name = 'MessageConflictError';
  constructor(message: string) {
    super(JournalErrorCode.CONFLICT, message);
  }
}

/**
 * A shard is behind what was already projected from it (its directory or its tail is gone):
 * appending would hand out offsets and seqs a second time, so the shard is refused instead.
 */
export class ShardDataLostError extends JournalError {
  override readonly name = 'ShardDataLostError';
  constructor(
    readonly shardId: string,
    have: number,
    projected: number,
  ) {
    super(
      JournalErrorCode.DATA_LOST,
      `shard "${shardId}" has ${have} records here but ${projected} were already projected: its data was lost; refusing it (restore the shard's directory)`,
    );
  }
}
