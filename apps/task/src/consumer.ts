import { AckPolicy, DeliverPolicy, ensureStream, headers, nanos } from '@tracechat/messaging';
import type { JsMsg, NatsConnection } from '@tracechat/messaging';
import {
  SpanKind,
  extractHeaders,
  incrementCounter,
  recordError,
  withSpan,
} from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import type { Pusher, RetryPolicy } from './pusher';
import type { Route, Router } from './router';
import { Attr, MetricName, SpanName, decodeMessageEvent } from '@tracechat/contracts';
import type { MessageEvent } from '@tracechat/contracts';

export interface ConsumerSettings {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly durable: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  /** Messages held at once by one instance (across all sessions). */
  readonly concurrency: number;
  /** Delay before a nak'd message (recipients could not be resolved) comes back. */
  readonly retryDelayMs: number;
  /** How long resolving recipients is retried in place before the message is nak'd. */
  readonly routeRetry: RetryPolicy;
  /** Where a push that exhausted its retries goes: this stream, `<subjectPrefix>_dlq.<session>`. */
  readonly deadLetterStream: string;
  /** The dead-letter stream's max_bytes (it keeps its pushes 14 days, or until this is full). */
  readonly deadLetterMaxBytes?: number;
}

/** Header names of a dead-lettered push. */
export const DeadLetterHeader = {
  GATEWAY_ID: 'Tracechat-Gateway-Id',
  USER_IDS: 'Tracechat-User-Ids',
  ERROR: 'Tracechat-Error',
  STREAM_SEQUENCE: 'Tracechat-Stream-Sequence',
} as const;

type ConsumerState = 'starting' | 'consuming' | 'restarting' | 'stopped';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Gateways that took a message, kept for messages that were nak'd, so a retry skips them. */
const DELIVERED_MEMORY = 10_000;

/** A session's messages handled together: one route lookup, their pushes issued in order. */
const MAX_GROUP = 256;

interface Queued {
  readonly msg: JsMsg;
  readonly event: MessageEvent | Error;
  /** When it was pulled (Date.now()). */
  readonly queuedAt: number;
}

/** What the messages of one group share: the route lookup, and the turn to issue pushes. */
interface Group {
  routes?: Promise<Route[]>;
  /** Resolves when the previous message of the group has issued its pushes. */
  turn: Promise<void>;
}

/**
 * The durable JetStream consumer every task instance shares. A session's messages are handled
 * in groups: the messages that arrived while the previous group was being pushed are routed
 * with one lookup, and their pushes are issued in stream (seq) order, so one DeliverBatch per
 * gateway carries them in order; the next group starts once this one is done. Different
 * sessions run in parallel. Each message keeps its own `task.mq.consume` span in its own
 * trace. A failed push is retried
 * for that gateway alone; one that exhausts its retries is published to the dead-letter stream,
 * and the message is acked once every gateway took it or was dead-lettered. The consume loop
 * recreates the durable consumer if it is deleted, and readiness follows the loop.
 */
export class MessageConsumer {
  private state: ConsumerState = 'starting';
  private problem = 'not started';
  private stopped = false;
  private loop: Promise<void> | undefined;
  private stopConsuming: (() => void) | undefined;
  /** Each session's messages waiting for the group being pushed, and that group's work. */
  private readonly sessions = new Map<string, { pending: Queued[]; running: Promise<void> }>();
  private held = 0;
  private slotFreed: (() => void) | undefined;
  private readonly delivered = new Map<string, Set<string>>();
  /** Gateways whose dead-letter counter exists (at 0 until a push to it is dead-lettered). */
  private readonly countedGateways = new Set<string>();
  /** Stream sequences being handled, and the highest seen: where a recreated consumer resumes. */
  private readonly unfinished = new Set<number>();
  private highestSeen = 0;

  constructor(
    private readonly nats: NatsConnection,
    private readonly settings: ConsumerSettings,
    private readonly router: Pick<Router, 'resolve'>,
    private readonly pusher: Pusher,
    private readonly log: Logger,
  ) {}

  /** Joins (or creates) the durable consumer and starts the consume loop. */
  async start(): Promise<void> {
    await ensureStream(await this.nats.jetstreamManager(), {
      stream: this.settings.deadLetterStream,
      subjectPrefix: this.deadLetterPrefix,
      maxAgeMs: 14 * 24 * 3600 * 1000,
      maxBytes: this.settings.deadLetterMaxBytes,
    });
    const first = await this.subscribe();
    this.loop = this.run(first);
  }

  /** Readiness: resolves while the consume loop is pulling, rejects with why it is not. */
  async check(): Promise<void> {
    if (this.state !== 'consuming') throw new Error(`consumer ${this.state}: ${this.problem}`);
  }

  /** Stops pulling and waits for the messages being handled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    this.problem = 'stopped';
    this.stopConsuming?.();
    this.slotFreed?.();
    await this.loop?.catch(() => undefined);
    await Promise.allSettled([...this.sessions.values()].map((q) => q.running));
  }

  /** Makes a gateway's dead-letter series exist, so "none dead-lettered" reads as 0, not absent. */
  private countDeadLettersOf(gatewayId: string): void {
    if (this.countedGateways.has(gatewayId)) return;
    this.countedGateways.add(gatewayId);
    incrementCounter(MetricName.TASK_MESSAGES_DEAD_LETTERED, { [Attr.GATEWAY_ID]: gatewayId }, 0);
  }

  private get deadLetterPrefix(): string {
    return `${this.settings.subjectPrefix}_dlq`;
  }

  private async ensureConsumer(): Promise<void> {
    const { stream, durable } = this.settings;
    const jsm = await this.nats.jetstreamManager();
    const settings = {
      ack_wait: nanos(this.settings.ackWaitMs),
      max_deliver: this.settings.maxDeliver,
      max_ack_pending: Math.max(1000, this.settings.concurrency * 4),
    };
    try {
      await jsm.consumers.info(stream, durable);
      await jsm.consumers.update(stream, durable, settings);
      return;
    } catch (err) {
      if (!/consumer not found/i.test((err as Error).message)) throw err;
    }
    // A consumer deleted under a running instance resumes where this instance was; a first
    // start (nothing seen yet) takes the whole stream.
    const resumeAt =
      this.unfinished.size > 0
        ? Math.min(...this.unfinished)
        : this.highestSeen > 0
          ? this.highestSeen + 1
          : 0;
    if (resumeAt > 0) {
      this.log.warn({ consumer: durable, resumeAt }, 'durable consumer missing; recreating it');
    }
    await jsm.consumers
      .add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        filter_subject: `${this.settings.subjectPrefix}.>`,
        ...settings,
        ...(resumeAt > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: resumeAt }
          : { deliver_policy: DeliverPolicy.All }),
      })
      .catch((err: Error) => {
        // another instance created it in between
        if (!/already in use|already exists/i.test(err.message)) throw err;
      });
  }

  private async subscribe(): Promise<AsyncIterable<JsMsg>> {
    await this.ensureConsumer();
    const consumer = await this.nats
      .jetstream()
      .consumers.get(this.settings.stream, this.settings.durable);
    const messages = await consumer.consume({ max_messages: this.settings.concurrency });
    this.stopConsuming = () => messages.stop();
    void (async () => {
      for await (const status of await messages.status()) {
        if (/consumer_deleted|consumer_not_found|stream_not_found/.test(status.type)) {
          this.state = 'restarting';
          this.problem = `${status.type}`;
          messages.stop();
        }
      }
    })().catch(() => undefined);
    this.state = 'consuming';
    this.problem = '';
    return messages;
  }

  private async run(first: AsyncIterable<JsMsg>): Promise<void> {
    let messages: AsyncIterable<JsMsg> | undefined = first;
    while (!this.stopped) {
      try {
        messages ??= await this.subscribe();
        for await (const msg of messages) {
          if (this.stopped) {
            msg.nak();
            continue;
          }
          this.dispatch(msg);
          while (this.held >= this.settings.concurrency && !this.stopped) {
            await new Promise<void>((resolve) => (this.slotFreed = resolve));
          }
        }
      } catch (err) {
        this.problem = (err as Error).message;
        this.log.warn({ err }, 'consume loop failed; restarting it');
      }
      messages = undefined;
      if (this.stopped) break;
      this.state = 'restarting';
      this.problem ||= 'consume loop ended';
      await sleep(1000);
    }
  }

  /** Queues the message behind the ones of its session that are still being pushed. */
  private dispatch(msg: JsMsg): void {
    let event: MessageEvent | Error;
    try {
      event = decodeMessageEvent(msg.data);
    } catch (err) {
      event = err as Error;
    }
    const key = event instanceof Error ? msg.subject : event.sessionId;
    this.held++;
    this.unfinished.add(msg.seq);
    this.highestSeen = Math.max(this.highestSeen, msg.seq);
    const queued = { msg, event, queuedAt: Date.now() };
    const queue = this.sessions.get(key);
    if (queue) {
      queue.pending.push(queued);
      return;
    }
    const fresh = { pending: [queued], running: Promise.resolve() };
    this.sessions.set(key, fresh);
    fresh.running = this.drain(key, fresh);
  }

  /** Handles a session's queue group by group until it is empty. */
  private async drain(key: string, queue: { pending: Queued[] }): Promise<void> {
    while (queue.pending.length > 0) {
      const group = queue.pending.splice(0, MAX_GROUP);
      const shared: Group = { turn: Promise.resolve() };
      await Promise.all(
        group.map(({ msg, event, queuedAt }) => {
          const turn = shared.turn;
          let done!: () => void;
          shared.turn = new Promise<void>((resolve) => (done = resolve));
          return this.handle(msg, event, queuedAt, shared, turn, done).finally(() => {
            done();
            this.held--;
            this.unfinished.delete(msg.seq);
            this.slotFreed?.();
            this.slotFreed = undefined;
          });
        }),
      );
    }
    this.sessions.delete(key);
  }

  /**
   * One message: its routes (the group's lookup), then, on its turn, its pushes; `issued` hands
   * the turn to the next message of the group.
   */
  private handle(
    msg: JsMsg,
    event: MessageEvent | Error,
    queuedAt: number,
    group: Group,
    turn: Promise<void>,
    issued: () => void,
  ): Promise<void> {
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
        if (event instanceof Error) {
          // A malformed event can never succeed: drop it instead of redelivering forever.
          recordError(span, event);
          this.log.error(
            { err: event, subject: msg.subject, seq: msg.seq },
            'dropping malformed event',
          );
          msg.term();
          return;
        }
        span.setAttributes({
          [Attr.SESSION_ID]: event.sessionId,
          [Attr.MESSAGE_ID]: event.messageId,
        });
        // a message that waited long behind its session's earlier ones gets more time (the
        // signal is a message to the server, so only when it is needed)
        if (Date.now() - queuedAt > this.settings.ackWaitMs / 3) msg.working();
        const took = this.delivered.get(event.messageId) ?? new Set<string>();
        try {
          const routes = await this.routesFor(event.sessionId, msg, group);
          for (const route of routes) this.countDeadLettersOf(route.gatewayId);
          await turn;
          const pending = routes.filter((route) => !took.has(route.gatewayId));
          const message = {
            messageId: event.messageId,
            sessionId: event.sessionId,
            seq: event.seq,
            senderId: event.senderId,
            text: event.text,
            sentAtMs: event.sentAtMs,
          };
          const pushes = Promise.allSettled(
            pending.map(async (route) => {
              await this.pusher.push(
                route,
                message,
                route.gatewayId === event.originGatewayId ? event.originConnectionId : '',
                () => msg.working(),
              );
              took.add(route.gatewayId);
            }),
          );
          issued();
          const results = await pushes;
          let deadLettered = 0;
          for (const [i, result] of results.entries()) {
            if (result.status === 'fulfilled') continue;
            const route = pending[i]!;
            await this.deadLetter(msg, event, route, result.reason);
            took.add(route.gatewayId);
            deadLettered++;
          }
          msg.ack();
          this.delivered.delete(event.messageId);
          incrementCounter(MetricName.TASK_MESSAGES_ROUTED, {
            outcome: deadLettered > 0 ? 'dead_lettered' : 'acked',
          });
        } catch (err) {
          this.remember(event.messageId, took);
          this.log.warn(
            { err, messageId: event.messageId },
            'routing failed; message will be redelivered',
          );
          msg.nak(this.settings.retryDelayMs);
          incrementCounter(MetricName.TASK_MESSAGES_ROUTED, { outcome: 'retried' });
          throw err;
        }
      },
    ).catch(() => undefined);
  }

  /**
   * The group's routes: the first message looks them up (in its own `task.route.resolve` span);
   * the others wait for that lookup in a span of theirs that says it was shared.
   */
  private routesFor(sessionId: string, msg: JsMsg, group: Group): Promise<Route[]> {
    if (!group.routes) {
      group.routes = this.resolve(sessionId, msg);
      return group.routes;
    }
    const routes = group.routes;
    return withSpan(
      SpanName.TASK_ROUTE_RESOLVE,
      { attributes: { [Attr.SESSION_ID]: sessionId, [Attr.ROUTE_SHARED]: true } },
      () => routes,
    );
  }

  /** Resolves recipients, retrying in place so the session's order holds while logic restarts. */
  private async resolve(sessionId: string, msg: JsMsg): Promise<Route[]> {
    const { attempts, baseDelayMs, maxDelayMs } = this.settings.routeRetry;
    let delay = baseDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.router.resolve(sessionId);
      } catch (err) {
        if (attempt >= attempts || this.stopped) throw err;
        msg.working();
        await sleep(delay);
        delay = Math.min(maxDelayMs, delay * 2);
      }
    }
  }

  /** Publishes one gateway's failed push to the dead-letter stream, with why and for whom. */
  private async deadLetter(
    msg: JsMsg,
    event: MessageEvent,
    route: Route,
    reason: unknown,
  ): Promise<void> {
    const h = headers();
    for (const [key, values] of msg.headers ?? []) {
      if (key === 'Nats-Msg-Id') continue;
      for (const value of values) h.append(key, value);
    }
    h.set(DeadLetterHeader.GATEWAY_ID, route.gatewayId);
    h.set(DeadLetterHeader.USER_IDS, route.userIds.join(','));
    h.set(DeadLetterHeader.STREAM_SEQUENCE, String(msg.seq));
    const cause = (reason as { cause?: { code?: unknown; details?: unknown } }).cause;
    h.set(
      DeadLetterHeader.ERROR,
      `${String(cause?.code ?? '')} ${String(cause?.details ?? (reason as Error).message ?? '')}`.trim(),
    );
    await this.nats.jetstream().publish(`${this.deadLetterPrefix}.${event.sessionId}`, msg.data, {
      headers: h,
      msgID: `${event.messageId}:${route.gatewayId}`,
    });
    incrementCounter(MetricName.TASK_MESSAGES_DEAD_LETTERED, {
      [Attr.GATEWAY_ID]: route.gatewayId,
    });
    this.log.error(
      { err: reason, messageId: event.messageId, gatewayId: route.gatewayId },
      'push exhausted its retries; dead-lettered',
    );
  }

  private remember(messageId: string, took: Set<string>): void {
    if (took.size === 0) return;
    this.delivered.delete(messageId);
    this.delivered.set(messageId, took);
    if (this.delivered.size > DELIVERED_MEMORY) {
      this.delivered.delete(this.delivered.keys().next().value!);
    }
  }
}
