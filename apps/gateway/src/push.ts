import {
  SpanKind,
  carrierFromContext,
  incrementCounter,
  recordHistogram,
  withSpan,
} from '@tracechat/telemetry';
import { Attr, MetricName, SpanName, serverFrames } from '@tracechat/contracts';
import type { DeliverRequest__Output, DeliverResponse } from '@tracechat/protos';
import { RpcError, Status } from '@tracechat/protos';
import type { Hub } from './connection';
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
    SpanName.GATEWAY_PUSH_DELIVER,
    {
      attributes: {
        [Attr.GATEWAY_ID]: gatewayId,
        [Attr.SESSION_ID]: message.sessionId,
        [Attr.MESSAGE_ID]: message.messageId,
        [Attr.USER_COUNT]: req.userIds.length,
      },
    },
    async (span) => {
      let connections = 0;
      for (const userId of req.userIds) {
        for (const conn of hub.connectionsOf(userId)) {
          if (conn.id === req.excludeConnectionId) continue;
          await withSpan(
            SpanName.GATEWAY_WS_PUSH,
            {
              kind: SpanKind.PRODUCER,
              attributes: {
                [Attr.USER_ID]: userId,
                [Attr.CONNECTION_ID]: conn.id,
                [Attr.MESSAGE_ID]: message.messageId,
              },
            },
            (pushSpan) => {
              const { traceparent = '' } = carrierFromContext();
              const written = conn.send(
                serverFrames.message(pushed, pushSpan.spanContext().traceId, traceparent),
              );
              pushSpan.setAttribute(Attr.FRAME_WRITTEN, written);
              if (written) {
                conn.rememberPush(message.messageId, traceparent);
                connections++;
                incrementCounter(MetricName.MESSAGES_PUSHED, { [Attr.GATEWAY_ID]: gatewayId });
                recordHistogram(
                  MetricName.MESSAGE_DELIVERY_LATENCY,
                  Date.now() - message.sentAtMs,
                  { [Attr.GATEWAY_ID]: gatewayId },
                  { unit: 'ms', description: 'From send accepted to push written' },
                );
              }
            },
          );
        }
      }
      span.setAttribute(Attr.CONNECTION_COUNT, connections);
      return { connections };
    },
  );
}
