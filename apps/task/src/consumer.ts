import { AckPolicy, DeliverPolicy, nanos } from '@tracechat/messaging';
import type { JsMsg, NatsConnection } from '@tracechat/messaging';
import {
  SpanKind,
  extractHeaders,
  incrementCounter,
  recordError,
  withSpan,
} from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import type { Pusher } from './pusher';
import type { Router } from './router';
import {
  Attr,
  EventDecodeError,
  MetricName,
  SpanName,
  decodeMessageEvent,
} from '@tracechat/contracts';

export interface ConsumerSettings {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly durable: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly concurrency: number;
  readonly retryDelayMs: number;
}

/**
 * The durable JetStream consumer every task instance shares. Each message is acked only after
 * every gateway accepted its push; a failed push naks it for redelivery after a delay.
 */
export class MessageConsumer {
  private stopped = false;
  private inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private stopConsuming: (() => void) | undefined;

  constructor(
    private readonly nats: NatsConnection,
    private readonly settings: ConsumerSettings,
    private readonly router: Router,
    private readonly pusher: Pusher,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { stream, durable } = this.settings;
    const jsm = await this.nats.jetstreamManager();
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.settings.ackWaitMs),
      max_deliver: this.settings.maxDeliver,
      max_ack_pending: Math.max(1000, this.settings.concurrency * 4),
      filter_subject: `${this.settings.subjectPrefix}.>`,
    };
    try {
      await jsm.consumers.info(stream, durable);
      await jsm.consumers.update(stream, durable, {
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: config.max_ack_pending,
      });
    } catch (err) {
      if (!/consumer not found/i.test((err as Error).message)) throw err;
      await jsm.consumers.add(stream, config);
    }
    const consumer = await this.nats.jetstream().consumers.get(stream, durable);
    const messages = await consumer.consume({ max_messages: this.settings.concurrency });
    this.stopConsuming = () => messages.stop();
    this.loop = (async () => {
      for await (const msg of messages) {
        if (this.stopped) {
          msg.nak();
          continue;
        }
        const work = this.handle(msg).finally(() => this.inFlight.delete(work));
        this.inFlight.add(work);
        if (this.inFlight.size >= this.settings.concurrency) await Promise.race(this.inFlight);
      }
    })();
  }

  /** Stops pulling and waits for the messages being handled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopConsuming?.();
    await this.loop?.catch(() => undefined);
    await Promise.allSettled(this.inFlight);
  }

  private handle(msg: JsMsg): Promise<void> {
    const parent = extractHeaders(msg.headers);
    return withSpan(
      SpanName.TASK_MQ_CONSUME,
      {
        kind: SpanKind.CONSUMER,
        parent,
        attributes: {
          [Attr.MESSAGING_SYSTEM]: 'nats',
          [Attr.MESSAGING_OPERATION_TYPE]: 'process',
          [Attr.MESSAGING_OPERATION_NAME]: 'consume',
          [Attr.MESSAGING_DESTINATION_NAME]: msg.subject,
          [Attr.MESSAGING_CONSUMER_GROUP_NAME]: this.settings.durable,
          [Attr.MESSAGING_MESSAGE_ID]: msg.headers?.get('Nats-Msg-Id') ?? '',
          [Attr.MESSAGING_MESSAGE_BODY_SIZE]: msg.data.byteLength,
          [Attr.MESSAGING_NATS_STREAM_SEQUENCE]: msg.seq,
          [Attr.MESSAGING_NATS_DELIVERY_COUNT]: msg.info.redeliveryCount,
        },
      },
      async (span) => {
        let event;
        try {
          event = decodeMessageEvent(msg.data);
        } catch (err) {
          // A malformed event can never succeed: drop it instead of redelivering forever.
          recordError(span, err);
          this.log.error({ err, subject: msg.subject, seq: msg.seq }, 'dropping malformed event');
          msg.term();
          return;
        }
        span.setAttributes({
          [Attr.SESSION_ID]: event.sessionId,
          [Attr.MESSAGE_ID]: event.messageId,
        });
        try {
          const routes = await this.router.resolve(event.sessionId);
          const message = {
            messageId: event.messageId,
            sessionId: event.sessionId,
            seq: event.seq,
            senderId: event.senderId,
            text: event.text,
            sentAtMs: event.sentAtMs,
          };
          const results = await Promise.allSettled(
            routes.map((route) =>
              this.pusher.push(
                route,
                message,
                route.gatewayId === event.originGatewayId ? event.originConnectionId : '',
              ),
            ),
          );
          const failed = results.filter((r) => r.status === 'rejected');
          if (failed.length > 0) {
            throw new Error(`${failed.length} of ${routes.length} gateway pushes failed`, {
              cause: (failed[0] as PromiseRejectedResult).reason,
            });
          }
          msg.ack();
          incrementCounter(MetricName.TASK_MESSAGES_ROUTED, { outcome: 'acked' });
        } catch (err) {
          if (err instanceof EventDecodeError) throw err;
          this.log.warn(
            { err, messageId: event.messageId },
            'push failed; message will be redelivered',
          );
          msg.nak(this.settings.retryDelayMs);
          incrementCounter(MetricName.TASK_MESSAGES_ROUTED, { outcome: 'retried' });
          throw err;
        }
      },
    ).catch(() => undefined);
  }
}
