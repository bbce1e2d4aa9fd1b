/** Frames of protocol v1 as the page uses them (docs/protocol.md). */

export interface ChatMessage {
  readonly session: string;
  readonly message_id: string;
  readonly seq: number;
  readonly from: string;
  readonly text: string;
  readonly sent_at: string;
  readonly trace_id: string;
}

export interface PushFrame extends ChatMessage {
  readonly type: 'message';
  readonly traceparent?: string;
}

export interface ErrorFrame {
  readonly type: 'error';
  readonly id: string | null;
  readonly code: string;
  readonly message: string;
  readonly trace_id?: string;
}

export interface JoinedFrame {
  readonly type: 'joined';
  readonly id: string;
  readonly session: string;
  readonly last_seq: number;
}

export interface AckFrame {
  readonly type: 'ack';
  readonly id: string;
  readonly message_id: string;
  readonly seq: number;
  readonly trace_id: string;
  readonly duplicate?: boolean;
}

export interface HistoryFrame {
  readonly type: 'history';
  readonly id: string;
  readonly session: string;
  readonly messages: readonly Omit<ChatMessage, 'session'>[];
}

export type ServerFrame =
  | PushFrame
  | ErrorFrame
  | JoinedFrame
  | AckFrame
  | HistoryFrame
  | { readonly type: 'invited' | 'left' | 'pong'; readonly id: string };

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
