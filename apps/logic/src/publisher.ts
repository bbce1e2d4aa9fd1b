import { headers } from '@tracechat/messaging';
import type { JetStreamClient } from '@tracechat/messaging';
import { encodeMessageEvent, messageSubject } from '@tracechat/protos';
import type { MessageEvent } from '@tracechat/protos';
import { SpanKind, injectHeaders, withSpan } from '@tracechat/telemetry';

/** Publishes stored messages to JetStream with the trace context in the headers. */
export class MessagePublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly subjectPrefix: string,
  ) {}

  /**
   * Publishes once per message id: JetStream drops a repeat with the same Nats-Msg-Id inside
   * its duplicate window, so a retried send can safely publish again.
   */
  publish(event: MessageEvent): Promise<void> {
    const subject = messageSubject(this.subjectPrefix, event.sessionId);
    const payload = encodeMessageEvent(event);
    return withSpan(
      'logic.mq.publish',
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'publish',
          'messaging.destination.name': subject,
          'messaging.message.id': event.messageId,
          'messaging.message.body.size': payload.byteLength,
          'chat.session.id': event.sessionId,
        },
      },
      async (span) => {
        const h = headers();
        injectHeaders(h);
        const ack = await this.js.publish(subject, payload, {
          msgID: event.messageId,
          headers: h,
          timeout: 5000,
        });
        span.setAttributes({
          'messaging.nats.stream': ack.stream,
          'messaging.nats.stream.sequence': ack.seq,
          'messaging.nats.duplicate': ack.duplicate,
        });
      },
    );
  }
}
