import { ROOT_CONTEXT, context as otelContext, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import {
  Attr,
  SpanName,
  decodeRecordData,
  encodeMessageEvent,
  messageSubject,
} from '@tracechat/contracts';
import type { MessageRecord } from '@tracechat/contracts';
import { headers } from '@tracechat/messaging';
import type { JetStreamClient } from '@tracechat/messaging';
import type { Pool } from '@tracechat/postgres';
import {
  SpanKind,
  contextFromCarrier,
  getTracer,
  injectHeaders,
  recordError,
  withSpan,
} from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import type { ProjectionWriter } from './projection-writer';
import { ShardDataLostError } from './storage';
import type { JournalStore } from './storage';

export interface ProjectorDeps {
  readonly store: JournalStore;
  readonly pool: Pool;
  /** Where the rows go: one statement for the saves of all shards of the node at once. */
  readonly writer: ProjectionWriter;
  readonly js: JetStreamClient;
  readonly subjectPrefix: string;
  readonly log: Logger;
  /** Most records projected in one Postgres transaction. */
  readonly batchRecords?: number;
  /** How long to wait before retrying after a failure (doubles up to 5 s). */
  readonly retryMs?: number;
  readonly publishTimeoutMs?: number;
}

/** Records kept by `offer` at most; beyond it the projection reads from the store. */
const RECENT_LIMIT = 20_000;

interface Position {
  /** First offset not yet in Postgres. */
  next: number;
  /** First offset not yet published to JetStream; never above `next`. */
  published: number;
}

interface Projected {
  readonly offset: number;
  readonly message: MessageRecord;
}

/**
 * Projects one shard's message records, in offset order, into Postgres (the `messages` rows and
 * `sessions.last_seq`) and then JetStream. Postgres commits each batch of rows together with the
 * shard's `projections.next_offset`, so rows are written exactly once; JetStream gets each
 * message after its rows are committed and `projections.published_offset` follows (lazily, see
 * ProjectionWriter), so a crash re-publishes at most the unconfirmed tail, which JetStream drops
 * by Nats-Msg-Id.
 */
export class ShardProjector {
  private position: Position | undefined;
  private wake: (() => void) | undefined;
  private dirty = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Records handed over by `offer`, by offset, until projected. */
  private readonly recent = new Map<number, MessageRecord>();

  constructor(
    readonly shardId: string,
    private readonly deps: ProjectorDeps,
  ) {}

  start(): void {
    // The loop outlives whatever call starts it (often the first append of a message): its own
    // queries belong to no message, so it runs outside that message's trace.
    this.loop ??= otelContext.with(ROOT_CONTEXT, () => this.run());
  }

  /**
   * A record just made durable, handed over from the writer so the projection need not read it
   * back from the segment file; anything not handed over (or dropped) is read from the store.
   */
  offer(offset: number, record: MessageRecord): void {
    if (this.recent.size >= RECENT_LIMIT) this.recent.clear(); // the projection is far behind
    this.recent.set(offset, record);
    this.notify();
  }

  /** New records are there: project them now rather than at the next poll. */
  notify(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** Finishes the batch in progress and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  /** Offsets projected so far (undefined before the first load). */
  get progress(): Readonly<Position> | undefined {
    return this.position && { ...this.position };
  }

  private async run(): Promise<void> {
    const base = this.deps.retryMs ?? 200;
    let delay = base;
    while (!this.stopped) {
      try {
        this.position ??= await this.load();
        const moved = await this.step(this.position);
        delay = base;
        if (!moved) await this.idle(1000);
      } catch (err) {
        this.deps.log.error({ err, shard: this.shardId }, 'projection failed; retrying');
        this.position = undefined;
        await this.idle(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    if (this.dirty || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async load(): Promise<Position> {
    const { rows } = await this.deps.pool.query<{ next_offset: string; published_offset: string }>(
      `INSERT INTO projections (shard_id) VALUES ($1)
       ON CONFLICT (shard_id) DO UPDATE SET shard_id = EXCLUDED.shard_id
       RETURNING next_offset, published_offset`,
      [this.shardId],
    );
    const position = {
      next: Number(rows[0]!.next_offset),
      published: Number(rows[0]!.published_offset),
    };
    const have = this.deps.store.info(this.shardId).nextOffset;
    if (have < position.next) throw new ShardDataLostError(this.shardId, have, position.next);
    return position;
  }

  /** One batch: re-publish an unconfirmed tail, or project new records. False when idle. */
  private async step(position: Position): Promise<boolean> {
    this.dirty = false;
    const { store } = this.deps;
    if (position.published < position.next) {
      const upTo = position.next;
      const batch = await this.readMessages(position.published, upTo - position.published);
      if (batch.end > upTo) throw new Error('read past the projected offset');
      await this.publish(batch.messages);
      this.savePublished(batch.end);
      position.published = batch.end;
      return true;
    }
    const end = store.info(this.shardId).nextOffset;
    if (position.next >= end) return false;
    const batch = await this.readMessages(position.next, this.deps.batchRecords ?? 500);
    await this.save(batch.messages, batch.end);
    position.next = batch.end;
    await this.publish(batch.messages);
    this.savePublished(batch.end);
    position.published = batch.end;
    return true;
  }

  private async readMessages(
    from: number,
    max: number,
  ): Promise<{ messages: Projected[]; end: number }> {
    // what was handed over, from `from` on while the offsets are contiguous
    const handed: Projected[] = [];
    for (let offset = from; handed.length < max; offset++) {
      const message = this.recent.get(offset);
      if (!message) break;
      handed.push({ offset, message });
    }
    for (const offset of this.recent.keys()) if (offset < from) this.recent.delete(offset);
    if (handed.length > 0) return { messages: handed, end: from + handed.length };
    const records = await this.deps.store.read(this.shardId, from, { maxRecords: max });
    const messages: Projected[] = [];
    for (const record of records) {
      // legacy records were written to Postgres and published by the old write path
      const decoded = decodeRecordData(record.data);
      if (decoded.kind === 'message')
        messages.push({ offset: record.offset, message: decoded.message });
    }
    const end = records.length > 0 ? records[records.length - 1]!.offset + 1 : from;
    return { messages, end };
  }

  /** Inserts the rows and moves next_offset atomically (with other shards' saves: ProjectionWriter). */
  private async save(messages: Projected[], end: number): Promise<void> {
    const tracer = getTracer();
    const spans: Span[] = messages.map(({ message }) =>
      tracer.startSpan(
        SpanName.JOURNAL_DB_SAVE_MESSAGE,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            [Attr.DB_SYSTEM_NAME]: 'postgresql',
            [Attr.DB_COLLECTION_NAME]: 'messages',
            [Attr.DB_OPERATION_NAME]: 'INSERT',
            [Attr.SESSION_ID]: message.sessionId,
            [Attr.MESSAGE_ID]: message.messageId,
            [Attr.MESSAGE_SEQ]: message.seq,
            [Attr.SHARD_ID]: this.shardId,
          },
        },
        contextFromCarrier(message),
      ),
    );
    try {
      const run = () =>
        this.deps.writer.save(
          this.shardId,
          messages.map((p) => p.message),
          end,
        );
      // the first message's span carries the query, so it shows in a trace
      const inserted = await (spans[0]
        ? otelContext.with(trace.setSpan(contextFromCarrier(messages[0]!.message), spans[0]), run)
        : run());
      messages.forEach(({ message }, i) =>
        spans[i]!.setAttribute(Attr.DB_ROWS, inserted.has(message.messageId) ? 1 : 0),
      );
    } catch (err) {
      for (const span of spans) recordError(span, err);
      throw err;
    } finally {
      for (const span of spans) span.end();
    }
  }

  /** Publishes in offset order (pipelined on one connection, which keeps the order). */
  private async publish(messages: Projected[]): Promise<void> {
    const { js, subjectPrefix } = this.deps;
    const timeout = this.deps.publishTimeoutMs ?? 5000;
    await Promise.all(
      messages.map(({ message }) => {
        const subject = messageSubject(subjectPrefix, message.sessionId);
        const payload = encodeMessageEvent({
          messageId: message.messageId,
          sessionId: message.sessionId,
          seq: message.seq,
          senderId: message.senderId,
          text: message.text,
          sentAtMs: message.sentAtMs,
          originGatewayId: message.originGatewayId,
          originConnectionId: message.originConnectionId,
        });
        return withSpan(
          SpanName.JOURNAL_MQ_PUBLISH,
          {
            kind: SpanKind.PRODUCER,
            parent: contextFromCarrier(message),
            attributes: {
              [Attr.MESSAGING_SYSTEM]: 'nats',
              [Attr.MESSAGING_OPERATION_TYPE]: 'send',
              [Attr.MESSAGING_OPERATION_NAME]: 'publish',
              [Attr.MESSAGING_DESTINATION_NAME]: subject,
              [Attr.MESSAGING_MESSAGE_ID]: message.messageId,
              [Attr.MESSAGING_MESSAGE_BODY_SIZE]: payload.byteLength,
              [Attr.SESSION_ID]: message.sessionId,
              [Attr.MESSAGE_SEQ]: message.seq,
            },
          },
          async (span) => {
            const h = headers();
            injectHeaders(h);
            const ack = await js.publish(subject, payload, {
              msgID: message.messageId,
              headers: h,
              timeout,
            });
            span.setAttributes({
              [Attr.MESSAGING_NATS_STREAM]: ack.stream,
              [Attr.MESSAGING_NATS_STREAM_SEQUENCE]: ack.seq,
              [Attr.MESSAGING_NATS_DUPLICATE]: ack.duplicate,
            });
          },
        );
      }),
    );
  }

  /** JetStream has the shard below `end`: written with the node's next statement (see ProjectionWriter). */
  private savePublished(end: number): void {
    this.deps.writer.notePublished(this.shardId, end);
  }
}
