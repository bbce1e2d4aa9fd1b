import { RpcError, Status } from '@tracechat/protos';

/** Why a chat call was refused; each maps to one gRPC status at the edge. */
export const ChatErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  UNAVAILABLE: 'UNAVAILABLE',
} as const;
export type ChatErrorCode = (typeof ChatErrorCode)[keyof typeof ChatErrorCode];

export class ChatError extends Error {
  override readonly name = 'ChatError';
  constructor(
    readonly code: ChatErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const STATUS: Record<ChatErrorCode, number> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  FORBIDDEN: Status.PERMISSION_DENIED,
  NOT_FOUND: Status.NOT_FOUND,
  UNAVAILABLE: Status.UNAVAILABLE,
};

/** The one place chat errors become gRPC statuses; anything else stays internal. */
export function toRpcError(err: unknown): unknown {
  return err instanceof ChatError
    ? new RpcError(STATUS[err.code], err.message, { cause: err })
    : err;
}
