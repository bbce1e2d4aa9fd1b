/** Error codes of the WebSocket protocol's `error` frame. */
export const ErrorCode = {
  INVALID_FRAME: 'INVALID_FRAME',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  TOO_LARGE: 'TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Error codes of the gateway's HTTP API (`{"code","message"}` bodies): the protocol's codes
 * plus the two only HTTP has.
 */
export const HttpErrorCode = {
  ...ErrorCode,
  /** A body or parameter that is not what the endpoint takes (400). */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** A body of another content type than the endpoint takes (415). */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
} as const;
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

/** A refusal that becomes an error frame; the connection stays open. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The frame's id when it could be read, so the client can match the error. */
    readonly frameId: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** WebSocket close codes the gateway uses (RFC 6455 §7.4.1). */
export const CloseCode = {
  /** The gateway is shutting down; reconnect (to any gateway). */
  GOING_AWAY: 1001,
  /**
   * Policy violation: the client let the gateway's send buffer fill (it does not read its
   * socket), reason `send buffer full`.
   */
  POLICY_VIOLATION: 1008,
  /** A frame was over the size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** The connection's token expired (reason `token expired`); reconnect with a fresh token. */
  TOKEN_EXPIRED: 4401,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
