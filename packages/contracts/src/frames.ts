/** WebSocket protocol v1: client frames, their parser, and the server frames (docs/protocol.md). */
import { FrameError } from './errors';
import type { ErrorCode } from './errors';
import { IdRules, isClientMsgId, isSessionId, isUserId, textProblem } from './ids';

/** Longest frame `id`, in characters. */
export const MAX_FRAME_ID_LENGTH = 64;

/** Defaults of the limits a gateway enforces; each has an environment variable. */
export const DEFAULT_LIMITS = {
  /** Largest WebSocket frame, in bytes; a larger one closes the connection with 1009. */
  maxFrameBytes: 16_384,
  /** Largest message text, in UTF-8 bytes (TOO_LARGE). */
  maxTextBytes: 4096,
  /** Largest `limit` of a history request. */
  maxHistoryLimit: 200,
  /** `limit` of a history request that gives none. */
  defaultHistoryLimit: 50,
} as const;

export interface FrameLimits {
  readonly maxTextBytes: number;
  readonly maxHistoryLimit: number;
}

interface Common {
  readonly id: string;
  readonly traceparent?: unknown;
  readonly tracestate?: unknown;
  readonly debug: boolean;
}

export type JoinFrame = Common & {
  readonly type: 'join';
  readonly session: string;
  readonly public: boolean;
};
export type InviteFrame = Common & {
  readonly type: 'invite';
  readonly session: string;
  readonly user: string;
};
export type LeaveFrame = Common & { readonly type: 'leave'; readonly session: string };
export type SendFrame = Common & {
  readonly type: 'send';
  readonly session: string;
  readonly text: string;
  /** The idempotency key, when the client gave one. */
  readonly clientMsgId?: string;
};
export type HistoryFrame = Common & {
  readonly type: 'history';
  readonly session: string;
  readonly afterSeq: number;
  readonly limit: number;
};
export type PingFrame = Common & { readonly type: 'ping' };
export interface ReceivedFrame {
  readonly type: 'received';
  readonly messageId: string;
  readonly traceparent?: unknown;
  readonly tracestate?: unknown;
}

export type RequestFrame =
  JoinFrame | InviteFrame | LeaveFrame | SendFrame | HistoryFrame | PingFrame;
export type ClientFrame = RequestFrame | ReceivedFrame;
export type FrameType = ClientFrame['type'];

/** Every client frame type, for span attributes and sampling. */
export const CLIENT_FRAME_TYPES: readonly FrameType[] = [
  'join',
  'invite',
  'leave',
  'send',
  'history',
  'ping',
  'received',
];

function field(obj: Record<string, unknown>, name: string, id: string | null): string {
  const value = obj[name];
  if (typeof value !== 'string') {
    throw new FrameError('INVALID_FRAME', `"${name}" must be a string`, id);
  }
  return value;
}

function session(obj: Record<string, unknown>, id: string): string {
  const value = field(obj, 'session', id);
  if (!isSessionId(value)) {
    throw new FrameError('INVALID_FRAME', `"session" must be ${IdRules.session}`, id);
  }
  return value;
}

function optionalBoolean(obj: Record<string, unknown>, name: string, id: string): boolean {
  const value = obj[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') {
    throw new FrameError('INVALID_FRAME', `"${name}" must be a boolean`, id);
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

/** The id of a decoded frame if it is a usable string, for error replies before full checks. */
export function frameIdOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const id = (value as Record<string, unknown>).id;
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_FRAME_ID_LENGTH ? id : null;
}

/** Parses a frame's JSON text; FrameError INVALID_FRAME when it is not JSON. */
export function decodeFrame(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new FrameError('INVALID_FRAME', 'frame is not valid JSON');
  }
}

const REQUEST_TYPES: ReadonlySet<string> = new Set([
  'join',
  'invite',
  'leave',
  'send',
  'history',
  'ping',
]);

/**
 * Checks one decoded client frame. Throws FrameError with INVALID_FRAME for non-objects,
 * unknown types, missing or mistyped fields and forbidden characters in text, and TOO_LARGE
 * for text over the limit. The error carries the frame's id whenever it could be read.
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
  if (!REQUEST_TYPES.has(type)) {
    throw new FrameError('INVALID_FRAME', `unknown frame type "${type.slice(0, 32)}"`, id);
  }
  if (id === null) {
    throw new FrameError(
      'INVALID_FRAME',
      `"id" must be a string of 1-${MAX_FRAME_ID_LENGTH} characters`,
    );
  }
  const common = {
    id,
    traceparent: obj.traceparent,
    tracestate: obj.tracestate,
    debug: optionalBoolean(obj, 'debug', id),
  };
  switch (type) {
    case 'join':
      return {
        ...common,
        type,
        session: session(obj, id),
        public: optionalBoolean(obj, 'public', id),
      };
    case 'invite': {
      const s = session(obj, id);
      const user = field(obj, 'user', id);
      if (!isUserId(user))
        throw new FrameError('INVALID_FRAME', `"user" must be ${IdRules.user}`, id);
      return { ...common, type, session: s, user };
    }
    case 'leave':
      return { ...common, type, session: session(obj, id) };
    case 'send': {
      const s = session(obj, id);
      const text = field(obj, 'text', id);
      const problem = textProblem(text, limits.maxTextBytes);
      if (problem)
        throw new FrameError(problem.tooLarge ? 'TOO_LARGE' : 'INVALID_FRAME', problem.message, id);
      const clientMsgId = obj.client_msg_id;
      if (clientMsgId === undefined || clientMsgId === null)
        return { ...common, type, session: s, text };
      if (!isClientMsgId(clientMsgId)) {
        throw new FrameError('INVALID_FRAME', `"client_msg_id" must be ${IdRules.clientMsgId}`, id);
      }
      return { ...common, type, session: s, text, clientMsgId };
    }
    case 'history': {
      const s = session(obj, id);
      const afterSeq = nonNegativeInt(obj, 'after_seq', id, 0);
      const limit = nonNegativeInt(obj, 'limit', id, DEFAULT_LIMITS.defaultHistoryLimit);
      if (limit < 1 || limit > limits.maxHistoryLimit) {
        throw new FrameError('INVALID_FRAME', `"limit" must be 1-${limits.maxHistoryLimit}`, id);
      }
      return { ...common, type, session: s, afterSeq, limit };
    }
    default:
      return { ...common, type: 'ping' };
  }
}

/** A message as clients see it, in pushes and history. */
export interface ChatMessageView {
  readonly session: string;
  readonly messageId: string;
  readonly seq: number;
  readonly from: string;
  readonly text: string;
  /** ISO 8601, UTC. */
  readonly sentAt: string;
  /** The trace the message was sent in, when known. */
  readonly traceId?: string;
}

/** Builders of every server frame, so field names live in one place. */
export const serverFrames = {
  joined: (id: string, session: string, lastSeq: number) => ({
    type: 'joined' as const,
    id,
    session,
    last_seq: lastSeq,
  }),
  invited: (id: string, session: string, user: string) => ({
    type: 'invited' as const,
    id,
    session,
    user,
  }),
  left: (id: string, session: string) => ({ type: 'left' as const, id, session }),
  ack: (id: string, messageId: string, seq: number, traceId: string, duplicate: boolean) => ({
    type: 'ack' as const,
    id,
    message_id: messageId,
    seq,
    trace_id: traceId,
    ...(duplicate ? { duplicate: true } : {}),
  }),
  history: (id: string, session: string, messages: readonly ChatMessageView[]) => ({
    type: 'history' as const,
    id,
    session,
    messages: messages.map((m) => ({
      message_id: m.messageId,
      seq: m.seq,
      from: m.from,
      text: m.text,
      sent_at: m.sentAt,
      trace_id: m.traceId ?? '',
    })),
  }),
  pong: (id: string) => ({ type: 'pong' as const, id }),
  message: (m: ChatMessageView, traceId: string, traceparent: string) => ({
    type: 'message' as const,
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
    type: 'error' as const,
    id,
    code,
    message,
    trace_id: traceId,
  }),
};

export type ServerFrame = ReturnType<(typeof serverFrames)[keyof typeof serverFrames]>;
