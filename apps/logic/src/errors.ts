import { CodedError, Status, rpcErrorMapper } from '@tracechat/protos';

/** Why a chat call was refused; each maps to one gRPC status at the edge. */
export const ChatErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  /** A client_msg_id was used before with another text. */
  CONFLICT: 'CONFLICT',
  /** A rate (e.g. invites per hour) was reached; waiting helps. */
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
} as const;
export type ChatErrorCode = (typeof ChatErrorCode)[keyof typeof ChatErrorCode];

export class ChatError extends CodedError<ChatErrorCode> {
  override readonly name = 'ChatError';
}

/** The one place chat errors become gRPC statuses; anything else stays internal. */
export const toRpcError = rpcErrorMapper(ChatError, {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  FORBIDDEN: Status.PERMISSION_DENIED,
  NOT_FOUND: Status.NOT_FOUND,
  CONFLICT: Status.ALREADY_EXISTS,
  RATE_LIMITED: Status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: Status.UNAVAILABLE,
});
