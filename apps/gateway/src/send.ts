import { TraceFlags } from '@opentelemetry/api';
import { Attr, MetricName, SpanName } from '@tracechat/contracts';
import type { LogicClient, SendMessageResponse__Output } from '@tracechat/protos';
import { SpanKind, incrementCounter, withSpan } from '@tracechat/telemetry';
import type { Span } from '@tracechat/telemetry';

/** One message to send, from a WebSocket `send` frame or an MQTT PUBLISH (already validated). */
export interface SendRequest {
  readonly session: string;
  readonly text: string;
  readonly clientMsgId: string | undefined;
  readonly userId: string;
  /** The sender's connection: its own pushes are left out (see push.ts). */
  readonly connectionId: string;
}

/**
 * The send path shared by every front door: `gateway.grpc.send_message` around logic's
 * SendMessage (batched), the answer's ids on `span` (the front door's root span) and
 * MESSAGES_SENT for a new message. Resolves once logic answered (the message is durable); logic's
 * errors travel on for the caller to map.
 */
export async function sendMessage(
  logic: LogicClient,
  gatewayId: string,
  req: SendRequest,
  span: Span,
): Promise<SendMessageResponse__Output> {
  const res = await withSpan(
    SpanName.GATEWAY_GRPC_SEND_MESSAGE,
    {
      // the send leaves in a SendMessages batch carrying this span's context
      kind: SpanKind.CLIENT,
      attributes: {
        [Attr.SESSION_ID]: req.session,
        [Attr.RPC_SYSTEM]: 'grpc',
        [Attr.RPC_SERVICE]: 'tracechat.v1.ChatService',
        [Attr.RPC_METHOD]: 'SendMessages',
      },
    },
    () =>
      logic.sendMessage({
        sessionId: req.session,
        userId: req.userId,
        clientMsgId: req.clientMsgId ?? '',
        text: req.text,
        originGatewayId: gatewayId,
        originConnectionId: req.connectionId,
      }),
  );
  span.setAttributes({
    [Attr.MESSAGE_ID]: res.messageId,
    [Attr.MESSAGE_SEQ]: res.seq,
    [Attr.DUPLICATE]: res.duplicate,
  });
  // `sampled` tells sends that leave spans from sends of unsampled traces (a client's
  // `-00` traceparent followed): alerts compare sampled sends with the spans that arrive
  if (!res.duplicate) {
    incrementCounter(MetricName.MESSAGES_SENT, {
      [Attr.GATEWAY_ID]: gatewayId,
      sampled: (span.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
    });
  }
  return res;
}
