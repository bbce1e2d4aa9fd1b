import { RpcError, Status } from '@tracechat/protos';
import { JournalError } from './storage';
import type { JournalErrorCode } from './storage';

const STATUS: Record<JournalErrorCode, number> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  SHARD_NOT_FOUND: Status.NOT_FOUND,
  OFFSET_OUT_OF_RANGE: Status.OUT_OF_RANGE,
  CORRUPT_RECORD: Status.DATA_LOSS,
  STORE_CLOSED: Status.UNAVAILABLE,
  STORE_LOCKED: Status.UNAVAILABLE,
  IO_ERROR: Status.UNAVAILABLE,
  CONFLICT: Status.ALREADY_EXISTS,
  DATA_LOST: Status.UNAVAILABLE,
};

/** The one place journal errors become gRPC statuses; anything else stays internal. */
export function toRpcError(err: unknown): unknown {
  return err instanceof JournalError
    ? new RpcError(STATUS[err.code], err.message, { cause: err })
    : err;
}
