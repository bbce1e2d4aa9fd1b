import {
  SpanKind,
  carrierFromContext,
  incrementCounter,
  recordHistogram,
  withSpan,
} from '@tracechat/telemetry';
import { Attr, MetricName, SpanName, serverFrames } from '@tracechat/contracts';
import type { ChatMessageView } from '@tracechat/contracts';
import type {
  ChatMessage__Output,
  DeliverRequest__Output,
  DeliverResponse,
} from '@tracechat/protos';
import { RpcError, Status } from '@tracechat/protos';
import type { Connection, Hub } from './connection';
import { fromProto } from './messages';

/** One message being delivered to this gateway's connections of its users. */
export interface Delivery {
  readonly message: ChatMessage__Output;
  readonly view: ChatMessageView;
  readonly gatewayId: string;
  /** The sender's connection when it is on this gateway, else empty. */
  readonly excludeConnectionId: string;
}

/**
 * Something a push can be written to: a WebSocket connection, an MQTT connection. Hub entries
 * are push targets; presence is per user, whatever the targets.
 */
export interface PushTarget {
  readonly id: string;
  readonly userId: string;
  /**
   * Writes the message if this target wants it (under the active `gateway.push.deliver` span);
   * true when it was written.
   */
  push(delivery: Delivery): Promise<boolean>;
  /** Ends the connection because the gateway shuts down. */
  shutdown(): void;
}

/** Counts one push written, and its latency from the message's send. */
export function countPushed(gatewayId: string, sentAtMs: number): void {
  incrementCounter(MetricName.MESSAGES_PUSHED, { [Attr.GATEWAY_ID]: gatewayId });
  recordHistogram(
    MetricName.MESSAGE_DELIVERY_LATENCY,
    Date.now() - sentAtMs,
    { [Attr.GATEWAY_ID]: gatewayId },
    { unit: 'ms', description: 'From send accepted to push written' },
  );
}

/**
 * A WebSocket connection's push: one `gateway.ws.push` span writing the `message` frame, never to
 * the sender's own connection (it has the `ack`).
 */
export function pushToWebSocket(conn: Connection, delivery: Delivery): Promise<boolean> {
  if (conn.id === delivery.excludeConnectionId) return Promise.resolve(false);
  const { message, view, gatewayId } = delivery;
  return withSpan(
    SpanName.GATEWAY_WS_PUSH,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [Attr.USER_ID]: conn.userId,
        [Attr.CONNECTION_ID]: conn.id,
        [Attr.MESSAGE_ID]: message.messageId,
      },
    },
    (pushSpan) => {
      const { traceparent = '' } = carrierFromContext();
      const written = conn.send(
        serverFrames.message(view, pushSpan.spanContext().traceId, traceparent),
      );
      pushSpan.setAttribute(Attr.FRAME_WRITTEN, written);
      if (written) {
        conn.rememberPush(message.messageId, traceparent);
        countPushed(gatewayId, message.sentAtMs);
      }
      return written;
    },
  );
}

/** PushService.Deliver: writes a message to every connection of the listed users here. */
export function deliver(
  hub: Hub,
  gatewayId: string,
  req: DeliverRequest__Output,
): Promise<DeliverResponse> {
  const message = req.message;
  if (!message) throw new RpcError(Status.INVALID_ARGUMENT, 'message is required');
  const delivery: Delivery = {
    message,
    view: fromProto(message),
    gatewayId,
    excludeConnectionId: req.excludeConnectionId,
  };
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
        for (const target of hub.connectionsOf(userId)) {
          if (await target.push(delivery)) connections++;
        }
      }
      span.setAttribute(Attr.CONNECTION_COUNT, connections);
      return { connections };
    },
  );
}
