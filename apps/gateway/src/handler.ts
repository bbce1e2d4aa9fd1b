import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, SpanContext } from '@opentelemetry/api';
import {
  Attr,
  MetricName,
  SamplingEvent,
  SpanName,
  decodeFrame,
  frameIdOf,
  parseFrame,
  serverFrames,
} from '@tracechat/contracts';
import type {
  ClientFrame,
  FrameError,
  FrameLimits,
  FrameType,
  RequestFrame,
} from '@tracechat/contracts';
import type { LogicClient } from '@tracechat/protos';
import {
  SpanKind,
  contextFromCarrier,
  currentTraceId,
  incrementCounter,
  recordError,
  withSpan,
} from '@tracechat/telemetry';
import type { Logger, Span, TraceCarrier } from '@tracechat/telemetry';
import type { Connection } from './connection';
import { toFrameError } from './errors';
import { fromProto } from './messages';
import { sendMessage } from './send';

export interface HandlerDeps {
  readonly gatewayId: string;
  readonly logic: LogicClient;
  readonly limits: FrameLimits;
  readonly followTraceparent: boolean;
  readonly log: Logger;
}

/** Frames of one connection in flight or waiting; past this the client is flooding. */
const MAX_QUEUED_FRAMES = 256;

/** The frames of one connection: the last barrier (a non-send frame) and the sends after it. */
interface Lane {
  barrier: Promise<unknown>;
  sends: Set<Promise<unknown>>;
  waiting: number;
}

const EVENT_OF: Record<Exclude<FrameType, 'received'>, SamplingEvent> = {
  join: SamplingEvent.SESSION,
  invite: SamplingEvent.SESSION,
  leave: SamplingEvent.SESSION,
  ping: SamplingEvent.HEARTBEAT,
  send: SamplingEvent.MESSAGING,
  history: SamplingEvent.MESSAGING,
};

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Handles the frames of every connection: one `gateway.ws.on_message` span per frame (a child of
 * the frame's traceparent when following is on and it is valid), a reply or an error frame, never
 * a thrown error. Frames of one connection are handled in order, except that consecutive `send`
 * frames are pipelined: each starts once the frames before the run are done, without waiting
 * for the previous send's ack, and the sends leave for logic in frame order (logic keeps that
 * order per session up to the journal, which assigns the seqs). Any other frame waits for
 * everything before it, and everything after it waits for it.
 */
export class FrameHandler {
  private readonly lanes = new WeakMap<Connection, Lane>();

  constructor(private readonly deps: HandlerDeps) {}

  /** Queues a raw frame of a connection. */
  accept(conn: Connection, raw: string): void {
    let lane = this.lanes.get(conn);
    if (!lane) {
      lane = { barrier: Promise.resolve(), sends: new Set(), waiting: 0 };
      this.lanes.set(conn, lane);
    }
    if (!conn.limiter.take() || lane.waiting >= MAX_QUEUED_FRAMES) {
      let id: string | null = null;
      try {
        id = frameIdOf(JSON.parse(raw));
      } catch {
        // the id is only a courtesy here
      }
      conn.send(serverFrames.error(id, 'RATE_LIMITED', 'too many frames, slow down', null));
      return;
    }
    let decoded: unknown;
    let decodeError: FrameError | undefined;
    try {
      decoded = decodeFrame(raw);
    } catch (err) {
      decodeError = err as FrameError;
    }
    const current = lane;
    current.waiting++;
    // a connection closed meanwhile (its send buffer full, its token expired) needs no answers
    const run = () =>
      (conn.open ? this.handle(conn, raw, decoded, decodeError) : Promise.resolve())
        .catch((err: unknown) => this.deps.log.error({ err }, 'frame handling failed'))
        .finally(() => current.waiting--);
    const type = asObject(decoded)?.type;
    if (type === 'received') {
      // closes a delivery in its trace: nothing depends on its order
      void run();
    } else if (type === 'send') {
      const done: Promise<unknown> = current.barrier.then(run);
      current.sends.add(done);
      void done.finally(() => current.sends.delete(done));
    } else {
      current.barrier = Promise.all([current.barrier, ...current.sends]).then(run);
      current.sends.clear();
    }
  }

  /** Replies to a binary frame, which protocol v1 does not use. */
  rejectBinary(conn: Connection): void {
    conn.send(
      serverFrames.error(
        null,
        'INVALID_FRAME',
        'binary frames are not supported; send JSON text',
        null,
      ),
    );
  }

  private async handle(
    conn: Connection,
    raw: string,
    decoded: unknown,
    decodeError: FrameError | undefined,
  ): Promise<void> {
    const obj = asObject(decoded);
    if (obj?.type === 'received') return this.received(conn, obj);

    const type = typeof obj?.type === 'string' ? obj.type : 'invalid';
    const carrier: TraceCarrier = this.deps.followTraceparent && obj ? obj : {};
    const parent = contextFromCarrier(carrier, ROOT_CONTEXT);
    const session = typeof obj?.session === 'string' ? obj.session.slice(0, 128) : undefined;
    const debug = obj?.debug === true;
    await withSpan(
      SpanName.GATEWAY_WS_ON_MESSAGE,
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: {
          [Attr.EVENT]: EVENT_OF[type as keyof typeof EVENT_OF] ?? SamplingEvent.MESSAGING,
          [Attr.USER_ID]: conn.userId,
          ...(session ? { [Attr.SESSION_ID]: session } : {}),
          ...(debug ? { [Attr.DEBUG]: true } : {}),
          [Attr.FRAME_TYPE]: type.slice(0, 32),
          [Attr.FRAME_SIZE]: Buffer.byteLength(raw),
          [Attr.CONNECTION_ID]: conn.id,
          [Attr.GATEWAY_ID]: this.deps.gatewayId,
        },
      },
      async (span) => {
        const frameId = frameIdOf(decoded);
        try {
          if (decodeError) throw decodeError;
          const frame = parseFrame(decoded, this.deps.limits);
          const reply = await this.dispatch(conn, frame as RequestFrame, span);
          await this.respond(conn, reply, type);
        } catch (err) {
          const failure = toFrameError(err, frameId);
          recordError(span, failure);
          if (failure.code === 'INTERNAL') this.deps.log.error({ err }, 'frame failed');
          await this.respond(
            conn,
            serverFrames.error(
              failure.frameId,
              failure.code,
              failure.message,
              currentTraceId() ?? null,
            ),
            type,
          );
        }
      },
    );
  }

  private respond(conn: Connection, frame: object, type: string): Promise<void> {
    return withSpan(
      SpanName.GATEWAY_WS_SEND_RESPONSE,
      { attributes: { [Attr.FRAME_TYPE]: type.slice(0, 32), [Attr.CONNECTION_ID]: conn.id } },
      (span) => {
        const written = conn.send(frame);
        span.setAttribute(Attr.FRAME_WRITTEN, written);
      },
    );
  }

  private async dispatch(conn: Connection, frame: RequestFrame, span: Span): Promise<object> {
    const logic = this.deps.logic;
    const sessionAttributes = (session: string) => ({
      [Attr.SESSION_ID]: session,
      [Attr.USER_ID]: conn.userId,
    });
    switch (frame.type) {
      case 'ping':
        return serverFrames.pong(frame.id);
      case 'join': {
        const res = await withSpan(
          SpanName.GATEWAY_SESSION_JOIN,
          {
            attributes: {
              ...sessionAttributes(frame.session),
              [Attr.SESSION_PUBLIC]: frame.public,
            },
          },
          () =>
            logic.joinSession({
              sessionId: frame.session,
              userId: conn.userId,
              public: frame.public,
            }),
        );
        return serverFrames.joined(frame.id, frame.session, res.lastSeq);
      }
      case 'invite':
        await withSpan(
          SpanName.GATEWAY_SESSION_INVITE,
          { attributes: { ...sessionAttributes(frame.session), [Attr.INVITEE_ID]: frame.user } },
          () =>
            logic.inviteMember({
              sessionId: frame.session,
              userId: conn.userId,
              inviteeId: frame.user,
            }),
        );
        return serverFrames.invited(frame.id, frame.session, frame.user);
      case 'leave':
        await withSpan(
          SpanName.GATEWAY_SESSION_LEAVE,
          { attributes: sessionAttributes(frame.session) },
          () => logic.leaveSession({ sessionId: frame.session, userId: conn.userId }),
        );
        return serverFrames.left(frame.id, frame.session);
      case 'send': {
        const res = await sendMessage(
          logic,
          this.deps.gatewayId,
          {
            session: frame.session,
            text: frame.text,
            clientMsgId: frame.clientMsgId,
            userId: conn.userId,
            connectionId: conn.id,
          },
          span,
        );
        return serverFrames.ack(
          frame.id,
          res.messageId,
          res.seq,
          currentTraceId() ?? '',
          res.duplicate,
        );
      }
      case 'history': {
        const res = await withSpan(
          SpanName.GATEWAY_GRPC_HISTORY,
          { attributes: { [Attr.SESSION_ID]: frame.session } },
          () =>
            logic.history({
              sessionId: frame.session,
              userId: conn.userId,
              afterSeq: frame.afterSeq,
              limit: frame.limit,
            }),
        );
        return serverFrames.history(frame.id, frame.session, res.messages.map(fromProto));
      }
    }
  }

  /**
   * `received` closes a delivery in its trace, once, for a message pushed to this same
   * connection: a span under the frame's `traceparent` when it belongs to the push's trace (the
   * recipient's render span), else under the push span. Any other `received` is ignored silently
   * (no span, no count), as is every `received` when clients' trace context is not followed.
   */
  private async received(conn: Connection, obj: Record<string, unknown>): Promise<void> {
    let frame: ClientFrame;
    try {
      frame = parseFrame(obj, this.deps.limits);
    } catch (err) {
      const failure = toFrameError(err, null);
      conn.send(serverFrames.error(null, failure.code, failure.message, null));
      return;
    }
    if (frame.type !== 'received' || !this.deps.followTraceparent) return;
    const pushed = conn.takePush(frame.messageId);
    if (pushed === undefined) return;
    const pushContext = contextFromCarrier({ traceparent: pushed }, ROOT_CONTEXT);
    const push = trace.getSpanContext(pushContext);
    if (!push) return;
    await withSpan(
      SpanName.GATEWAY_WS_DELIVERY_ACK,
      {
        kind: SpanKind.SERVER,
        parent: deliveryParent(pushContext, push, frame),
        attributes: {
          [Attr.MESSAGE_ID]: frame.messageId.slice(0, 64),
          [Attr.USER_ID]: conn.userId,
          [Attr.CONNECTION_ID]: conn.id,
          [Attr.GATEWAY_ID]: this.deps.gatewayId,
        },
      },
      () =>
        incrementCounter(MetricName.MESSAGES_DELIVERED, { [Attr.GATEWAY_ID]: this.deps.gatewayId }),
    );
  }
}

/**
 * The parent of a `delivery_ack`: the `received` frame's span when it is in the push's trace
 * (the recipient's render span, itself a child of the push), else the push span. The push's
 * sampling decision stands either way: the client chooses a parent, never whether it is kept.
 */
function deliveryParent(pushContext: Context, push: SpanContext, frame: TraceCarrier): Context {
  const claimed = trace.getSpanContext(contextFromCarrier(frame, ROOT_CONTEXT));
  if (!claimed || claimed.traceId !== push.traceId) return pushContext;
  return trace.setSpanContext(ROOT_CONTEXT, { ...claimed, traceFlags: push.traceFlags });
}
