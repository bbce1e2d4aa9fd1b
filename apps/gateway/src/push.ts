import {
  SpanKind,
  carrierFromContext,
  incrementCounter,
  recordHistogram,
  withSpan,
} from '@tracechat/telemetry';
import type { DeliverRequest__Output, DeliverResponse } from '@tracechat/protos';
import { RpcError, Status } from '@tracechat/protos';
import type { Hub } from './connection';
import { serverFrames } from './frames';
import { fromProto } from './messages';

/** PushService.Deliver: writes a message to every connection of the listed users here. */
export function deliver(
  hub: Hub,
  gatewayId: string,
  req: DeliverRequest__Output,
): Promise<DeliverResponse> {
  const message = req.message;
  if (!message) throw new RpcError(Status.INVALID_ARGUMENT, 'message is required');
  const pushed = fromProto(message);
  return withSpan(
    'gateway.push.deliver',
    {
      attributes: {
        'chat.gateway.id': gatewayId,
        'chat.session.id': message.sessionId,
        'chat.message.id': message.messageId,
        'chat.user.count': req.userIds.length,
      },
    },
    async (span) => {
      let connections = 0;
      for (const userId of req.userIds) {
        for (const conn of hub.connectionsOf(userId)) {
          if (conn.id === req.excludeConnectionId) continue;
          await withSpan(
            'gateway.ws.push',
            {
              kind: SpanKind.PRODUCER,
              attributes: {
                'chat.user.id': userId,
                'chat.connection.id': conn.id,
                'chat.message.id': message.messageId,
              },
            },
            (pushSpan) => {
              const { traceparent = '' } = carrierFromContext();
              const written = conn.send(
                serverFrames.message(pushed, pushSpan.spanContext().traceId, traceparent),
              );
              pushSpan.setAttribute('chat.frame.written', written);
              if (written) {
                connections++;
                incrementCounter('tracechat.messages.pushed', { 'chat.gateway.id': gatewayId });
                recordHistogram(
                  'tracechat.message.delivery.latency',
                  Date.now() - message.sentAtMs,
                  { 'chat.gateway.id': gatewayId },
                  { unit: 'ms', description: 'From send accepted to push written' },
                );
              }
            },
          );
        }
      }
      span.setAttribute('chat.connection.count', connections);
      return { connections };
    },
  );
}
