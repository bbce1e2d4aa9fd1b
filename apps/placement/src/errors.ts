import { CodedError, Status, rpcErrorMapper } from '@tracechat/protos';

/** Why a placement call (or start-up) was refused; each maps to one gRPC status at the edge. */
export const PlacementErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  NOT_FOUND: 'NOT_FOUND',
  /** No live journal node to take a new shard. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The caller's identity is not the journal node the request is about. */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /** The node id is live at another address: a second process cannot take it over. */
  NODE_ID_TAKEN: 'NODE_ID_TAKEN',
  /** SHARD_COUNT differs from the count the database's shard map was built with. */
  SHARD_COUNT_MISMATCH: 'SHARD_COUNT_MISMATCH',
} as const;
export type PlacementErrorCode = (typeof PlacementErrorCode)[keyof typeof PlacementErrorCode];

export class PlacementError extends CodedError<PlacementErrorCode> {
  override readonly name = 'PlacementError';
}

/** The one place placement errors become gRPC statuses; anything else stays internal. */
export const toRpcError = rpcErrorMapper(PlacementError, {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  NOT_FOUND: Status.NOT_FOUND,
  UNAVAILABLE: Status.UNAVAILABLE,
  PERMISSION_DENIED: Status.PERMISSION_DENIED,
  NODE_ID_TAKEN: Status.ALREADY_EXISTS,
  SHARD_COUNT_MISMATCH: Status.FAILED_PRECONDITION,
});
