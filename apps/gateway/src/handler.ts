import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import {
  SamplingAttributes,
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
import { decodeFrame, frameIdOf, parseFrame, serverFrames } from './frames';
import type { ClientFrame, FrameLimits, FrameError } from './frames';
import type { LogicClient } from './logic-client';
import { fromProto } from './messages';

export interface HandlerDeps {
  readonly gatewayId: string;
  readonly logic: LogicClient;
  readonly limits: FrameLimits;
  readonly followTraceparent: boolean;
  readonly log: Logger;
}

/** Frames of one connection waiting for the previous ones; past this the client is flooding. */
const MAX_QUEUED_FRAMES = 256;

const EVENT_OF: Record<string, string> = {
  join: 'session',
  leave: 'session',
  ping: 'heartbeat',
  send: 'messaging',
  history: 'messaging',
};

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Handles the frames of every connection: one `gateway.ws.on_message` span per frame (a child of
 * the frame's traceparent when following is on and it is valid), a reply or an error frame, never
 * a thrown error. Frames of one connection are handled in order.
 */
export class FrameHandler {
  private readonly queues = new WeakMap<Connection, Promise<void>>();
  private readonly pending = new WeakMap<Connection, number>();

  constructor(private readonly deps: HandlerDeps) {}

  /** Queues a raw frame of a connection. */
  accept(conn: Connection, raw: string): void {
    const waiting = this.pending.get(conn) ?? 0;
    if (!conn.limiter.take() || waiting >= MAX_QUEUED_FRAMES) {
      let id: string | null = null;
      try {
        id = frameIdOf(JSON.parse(raw));
      } catch {
        // the id is only a courtesy here
      }
      conn.send(serverFrames.error(id, 'RATE_LIMITED', 'too many frames, slow down', null));
      return;
    }
    this.pending.set(conn, waiting + 1);
    const previous = this.queues.get(conn) ?? Promise.resolve();
    const next = previous
      .then(() => this.handle(conn, raw))
      .catch((err: unknown) => this.deps.log.error({ err }, 'frame handling failed'))
      .finally(() => this.pending.set(conn, (this.pending.get(conn) ?? 1) - 1));
    this.queues.set(conn, next);
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

  private async handle(conn: Connection, raw: string): Promise<void> {
    let decoded: unknown;
    let decodeError: FrameError | undefined;
    try {
      decoded = decodeFrame(raw);
    } catch (err) {
      decodeError = err as FrameError;
    }
    const obj = asObject(decoded);
    if (obj?.type === 'received') return this.received(conn, obj);

    const type = typeof obj?.type === 'string' ? obj.type : 'invalid';
    const carrier: TraceCarrier = this.deps.followTraceparent && obj ? obj : {};
    const parent = contextFromCarrier(carrier, ROOT_CONTEXT);
    const session = typeof obj?.session === 'string' ? obj.session.slice(0, 128) : undefined;
    const debug = obj?.debug === true;
    await withSpan(
      'gateway.ws.on_message',
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: {
          [SamplingAttributes.EVENT]: EVENT_OF[type] ?? 'messaging',
          [SamplingAttributes.USER]: conn.userId,
          ...(session ? { [SamplingAttributes.SESSION]: session } : {}),
          ...(debug ? { [SamplingAttributes.DEBUG]: true } : {}),
          'chat.frame.type': type.slice(0, 32),
          'chat.frame.size': Buffer.byteLength(raw),
          'chat.connection.id': conn.id,
          'chat.gateway.id': this.deps.gatewayId,
        },
      },
      async (span) => {
        const frameId = frameIdOf(decoded);
        try {
          if (decodeError) throw decodeError;
          const frame = parseFrame(decoded, this.deps.limits);
          const reply = await this.dispatch(
            conn,
            frame as Exclude<ClientFrame, { type: 'received' }>,
            span,
          );
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
      'gateway.ws.send_response',
      { attributes: { 'chat.frame.type': type.slice(0, 32), 'chat.connection.id': conn.id } },
      (span) => {
        const written = conn.send(frame);
        span.setAttribute('chat.frame.written', written);
      },
    );
  }

  private async dispatch(
    conn: Connection,
    frame: Exclude<ClientFrame, { type: 'received' }>,
    span: Span,
  ): Promise<object> {
    const logic = this.deps.logic;
    switch (frame.type) {
      case 'ping':
        return serverFrames.pong(frame.id);
      case 'join': {
        const res = await withSpan(
          'gateway.session.join',
          { attributes: { 'chat.session.id': frame.session, 'chat.user.id': conn.userId } },
          () => logic.joinSession({ sessionId: frame.session, userId: conn.userId }),
        );
        return serverFrames.joined(frame.id, frame.session, res.lastSeq);
      }
      case 'leave':
        await withSpan(
          'gateway.session.leave',
          { attributes: { 'chat.session.id': frame.session, 'chat.user.id': conn.userId } },
          () => logic.leaveSession({ sessionId: frame.session, userId: conn.userId }),
        );
        return serverFrames.left(frame.id, frame.session);
      case 'send': {
        const res = await withSpan(
          'gateway.grpc.send_message',
          {
            attributes: {
              'chat.session.id': frame.session,
              'rpc.service': 'tracechat.v1.ChatService',
              'rpc.method': 'SendMessage',
            },
          },
          () =>
            logic.sendMessage({
              sessionId: frame.session,
              userId: conn.userId,
              clientMsgId: frame.id,
              text: frame.text,
              originGatewayId: this.deps.gatewayId,
              originConnectionId: conn.id,
            }),
        );
        span.setAttributes({
          'chat.message.id': res.messageId,
          'chat.message.seq': res.seq,
          'chat.duplicate': res.duplicate,
        });
        // `sampled` tells sends that leave spans from sends of unsampled traces (a client's
        // `-00` traceparent followed): alerts compare sampled sends with the spans that arrive
        if (!res.duplicate)
          incrementCounter('tracechat.messages.sent', {
            'chat.gateway.id': this.deps.gatewayId,
            sampled: (span.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
          });
        return serverFrames.ack(frame.id, res.messageId, res.seq, currentTraceId() ?? '');
      }
      case 'history': {
        const res = await withSpan(
          'gateway.grpc.history',
          { attributes: { 'chat.session.id': frame.session } },
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

  /** `received` closes a delivery in its trace: a span under the push span it names. */
  private async received(conn: Connection, obj: Record<string, unknown>): Promise<void> {
    let frame: ClientFrame;
    try {
      frame = parseFrame(obj, this.deps.limits);
    } catch (err) {
      const failure = toFrameError(err, null);
      conn.send(serverFrames.error(null, failure.code, failure.message, null));
      return;
    }
    if (frame.type !== 'received') return;
    const parent = contextFromCarrier(frame, ROOT_CONTEXT);
    if (!trace.getSpanContext(parent)) return; // no delivery to close
    await withSpan(
      'gateway.ws.delivery_ack',
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: {
          'chat.message.id': frame.messageId.slice(0, 64),
          'chat.user.id': conn.userId,
          'chat.connection.id': conn.id,
          'chat.gateway.id': this.deps.gatewayId,
        },
      },
      () =>
        incrementCounter('tracechat.messages.delivered', {
          'chat.gateway.id': this.deps.gatewayId,
        }),
    );
  }
}
