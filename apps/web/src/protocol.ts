/**
 * Frames of protocol v1 as the page uses them (docs/protocol.md). What the server sends is typed
 * from the contracts package's frame builders (a type-only import: nothing of it is bundled).
 */
import type { ServerFrame as WireFrame } from '@tracechat/contracts';

type FrameOf<T extends WireFrame['type']> = Extract<WireFrame, { readonly type: T }>;

export type PushFrame = FrameOf<'message'>;
export type ErrorFrame = FrameOf<'error'>;
export type JoinedFrame = FrameOf<'joined'>;
export type AckFrame = FrameOf<'ack'>;
export type HistoryFrame = FrameOf<'history'>;
export type ServerFrame = WireFrame;

/** A message of a session, whether it came as a push, in history or (one's own) with its ack. */
export type ChatMessage = Omit<PushFrame, 'type' | 'traceparent'>;

/** A request as sent; `id` is added by the connection. */
export type ClientRequest =
  | { readonly type: 'join'; readonly session: string; readonly public?: boolean }
  | { readonly type: 'invite'; readonly session: string; readonly user: string }
  | { readonly type: 'leave'; readonly session: string }
  | {
      readonly type: 'send';
      readonly session: string;
      readonly text: string;
      readonly client_msg_id: string;
      readonly traceparent?: string;
      readonly debug?: boolean;
    }
  | {
      readonly type: 'history';
      readonly session: string;
      readonly after_seq: number;
      readonly limit: number;
    }
  | { readonly type: 'ping' };

export type ReplyTo<R extends ClientRequest> = R['type'] extends 'join'
  ? JoinedFrame
  : R['type'] extends 'send'
    ? AckFrame
    : R['type'] extends 'history'
      ? HistoryFrame
      : { readonly type: string; readonly id: string };

/** An error frame answered to a request, with its stable `code`. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The connection went away before the reply came; the request may or may not have been applied. */
export class Disconnected extends Error {
  override readonly name = 'Disconnected';
  constructor() {
    super('the connection closed before the reply');
  }
}
