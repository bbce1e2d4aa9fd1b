import { headers } from '@tracechat/messaging';
import type { JetStreamClient } from '@tracechat/messaging';
import { SpanKind, injectHeaders, withSpan } from '@tracechat/telemetry';
import { Attr, SpanName, encodeMessageEvent, messageSubject } from '@tracechat/contracts';
import type { MessageEvent } from '@tracechat/contracts';

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
      SpanName.LOGIC_MQ_PUBLISH,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          [Attr.MESSAGING_SYSTEM]: 'nats',
          [Attr.MESSAGING_OPERATION_TYPE]: 'send',
          [Attr.MESSAGING_OPERATION_NAME]: 'publish',
          [Attr.MESSAGING_DESTINATION_NAME]: subject,
          [Attr.MESSAGING_MESSAGE_ID]: event.messageId,
          [Attr.MESSAGING_MESSAGE_BODY_SIZE]: payload.byteLength,
          [Attr.SESSION_ID]: event.sessionId,
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
          [Attr.MESSAGING_NATS_STREAM]: ack.stream,
          [Attr.MESSAGING_NATS_STREAM_SEQUENCE]: ack.seq,
          [Attr.MESSAGING_NATS_DUPLICATE]: ack.duplicate,
        });
      },
    );
  }
}
