/** WebSocket protocol v1: client frame parsing and server frame shapes (see docs/protocol.md). */

export const ErrorCode = {
  INVALID_FRAME: 'INVALID_FRAME',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  TOO_LARGE: 'TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

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

interface Common {
  readonly id: string;
  readonly traceparent?: unknown;
  readonly tracestate?: unknown;
  readonly debug: boolean;
}

export type ClientFrame =
  | (Common & { readonly type: 'join'; readonly session: string })
  | (Common & { readonly type: 'leave'; readonly session: string })
  | (Common & { readonly type: 'send'; readonly session: string; readonly text: string })
  | (Common & {
      readonly type: 'history';
      readonly session: string;
      readonly afterSeq: number;
      readonly limit: number;
    })
  | (Common & { readonly type: 'ping' })
  | {
      readonly type: 'received';
      readonly messageId: string;
      readonly traceparent?: unknown;
      readonly tracestate?: unknown;
    };

export type FrameType = ClientFrame['type'];

const SESSION = /^[A-Za-z0-9_-]{1,128}$/;

export interface FrameLimits {
  readonly maxTextBytes: number;
  readonly maxHistoryLimit: number;
}

function field(obj: Record<string, unknown>, name: string, id: string | null): string {
  const value = obj[name];
  if (typeof value !== 'string') {
    throw new FrameError('INVALID_FRAME', `"${name}" must be a string`, id);
  }
  return value;
}

function session(obj: Record<string, unknown>, id: string): string {
  const value = field(obj, 'session', id);
  if (!SESSION.test(value)) {
    throw new FrameError('INVALID_FRAME', '"session" must be 1-128 letters, digits, _ or -', id);
  }
  return value;
}

function nonNegativeInt(
  obj: Record<string, unknown>,
  name: string,
  id: string,
  fallback: number,
): number {
  const value = obj[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new FrameError('INVALID_FRAME', `"${name}" must be a non-negative integer`, id);
  }
  return value;
}

/** The id of a parsed frame if it is a usable string, for error replies before full checks. */
export function frameIdOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const id = (value as Record<string, unknown>).id;
  return typeof id === 'string' && id.length >= 1 && id.length <= 64 ? id : null;
}

/** Parses a frame's JSON text; FrameError INVALID_FRAME when it is not JSON. */
export function decodeFrame(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new FrameError('INVALID_FRAME', 'frame is not valid JSON');
  }
}

/**
 * Checks one decoded client frame. Throws FrameError with INVALID_FRAME for non-objects,
 * unknown types and missing or mistyped fields, and TOO_LARGE for text over the limit.
 */
export function parseFrame(value: unknown, limits: FrameLimits): ClientFrame {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('INVALID_FRAME', 'frame must be a JSON object');
  }
  const obj = value as Record<string, unknown>;
  const type = obj.type;
  if (type === 'received') {
    const messageId = field(obj, 'message_id', null);
    return { type, messageId, traceparent: obj.traceparent, tracestate: obj.tracestate };
  }
  const id = frameIdOf(obj);
  if (typeof type !== 'string')
    throw new FrameError('INVALID_FRAME', '"type" must be a string', id);
  if (!['join', 'leave', 'send', 'history', 'ping'].includes(type)) {
    throw new FrameError('INVALID_FRAME', `unknown frame type "${type.slice(0, 32)}"`, id);
  }
  if (id === null)
    throw new FrameError('INVALID_FRAME', '"id" must be a string of 1-64 characters');
  if (obj.debug !== undefined && typeof obj.debug !== 'boolean') {
    throw new FrameError('INVALID_FRAME', '"debug" must be a boolean', id);
  }
  const common = {
    id,
    traceparent: obj.traceparent,
    tracestate: obj.tracestate,
    debug: obj.debug === true,
  };
  switch (type) {
    case 'join':
      return { ...common, type, session: session(obj, id) };
    case 'leave':
      return { ...common, type, session: session(obj, id) };
    case 'send': {
      const s = session(obj, id);
      const text = field(obj, 'text', id);
      if (text.length === 0) throw new FrameError('INVALID_FRAME', '"text" must not be empty', id);
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > limits.maxTextBytes) {
        throw new FrameError(
          'TOO_LARGE',
          `"text" is ${bytes} bytes, over the ${limits.maxTextBytes} byte limit`,
          id,
        );
      }
      return { ...common, type, session: s, text };
    }
    case 'history': {
      const s = session(obj, id);
      const afterSeq = nonNegativeInt(obj, 'after_seq', id, 0);
      const limit = nonNegativeInt(obj, 'limit', id, 50);
      if (limit < 1 || limit > limits.maxHistoryLimit) {
        throw new FrameError('INVALID_FRAME', `"limit" must be 1-${limits.maxHistoryLimit}`, id);
      }
      return { ...common, type, session: s, afterSeq, limit };
    }
    default:
      return { ...common, type: 'ping' };
  }
}

export interface PushedMessage {
  readonly session: string;
  readonly messageId: string;
  readonly seq: number;
  readonly from: string;
  readonly text: string;
  readonly sentAt: string;
}

export const serverFrames = {
  joined: (id: string, session: string, lastSeq: number) => ({
    type: 'joined',
    id,
    session,
    last_seq: lastSeq,
  }),
  left: (id: string, session: string) => ({ type: 'left', id, session }),
  ack: (id: string, messageId: string, seq: number, traceId: string) => ({
    type: 'ack',
    id,
    message_id: messageId,
    seq,
    trace_id: traceId,
  }),
  history: (id: string, session: string, messages: readonly PushedMessage[]) => ({
    type: 'history',
    id,
    session,
    messages: messages.map((m) => ({
      message_id: m.messageId,
      session: m.session,
      seq: m.seq,
      from: m.from,
      text: m.text,
      sent_at: m.sentAt,
    })),
  }),
  pong: (id: string) => ({ type: 'pong', id }),
  message: (m: PushedMessage, traceId: string, traceparent: string) => ({
    type: 'message',
    session: m.session,
    message_id: m.messageId,
    seq: m.seq,
    from: m.from,
    text: m.text,
    sent_at: m.sentAt,
    trace_id: traceId,
    traceparent,
  }),
  error: (id: string | null, code: ErrorCode, message: string, traceId: string | null) => ({
    type: 'error',
    id,
    code,
    message,
    trace_id: traceId,
  }),
};
