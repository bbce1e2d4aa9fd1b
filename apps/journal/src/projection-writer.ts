import { ROOT_CONTEXT, context as otelContext } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { MessageRecord } from '@tracechat/contracts';
import type { Pool } from '@tracechat/postgres';
import { parseTraceparent } from '@tracechat/telemetry';

interface Save {
  readonly shardId: string;
  readonly messages: readonly MessageRecord[];
  readonly next: number;
  readonly context: Context;
  readonly resolve: (inserted: Set<string>) => void;
  readonly reject: (err: unknown) => void;
}

/** How long a published offset may wait for a save to carry it before it is written alone. */
const PUBLISHED_FLUSH_MS = 200;

/**
 * The Postgres side of every shard projector of a journal node. The saves the projectors ask for
 * in one turn of the event loop become one statement: the rows of every shard, `sessions.last_seq`
 * and each shard's `projections.next_offset`, atomically (a single statement commits alone), so a
 * node writing many busy shards pays one round trip and one commit for all of them instead of
 * four round trips and a commit per shard batch.
 *
 * Published offsets (`projections.published_offset`, how far JetStream has the shard) ride along
 * with the next statement, or are written alone after `PUBLISHED_FLUSH_MS`. Until then a restart
 * re-publishes that short tail, which JetStream drops by `Nats-Msg-Id`.
 */
export class ProjectionWriter {
  private waiting: Save[] = [];
  private scheduled = false;
  private readonly published = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly pool: Pool) {}

  /** Stores a shard's messages and moves its next offset; resolves with the ids inserted. */
  save(shardId: string, messages: readonly MessageRecord[], next: number): Promise<Set<string>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({
        shardId,
        messages,
        next,
        context: otelContext.active(),
        resolve,
        reject,
      });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.write();
        });
      }
    });
  }

  /** Records that JetStream has a shard's messages below `offset`. */
  notePublished(shardId: string, offset: number): void {
    this.published.set(shardId, Math.max(offset, this.published.get(shardId) ?? 0));
    // the timer would otherwise inherit the context of the message being published, and the
    // offset update (which is no message's work) would join that message's trace
    this.flushTimer ??= otelContext.with(ROOT_CONTEXT, () =>
      setTimeout(() => {
        this.flushTimer = undefined;
        void this.flushPublished().catch(() => undefined); // the next save or flush carries it
      }, PUBLISHED_FLUSH_MS),
    );
  }

  /** Writes the published offsets not written yet (on stop, and by the timer). */
  async flushPublished(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const published = this.takePublished();
    if (published.shards.length === 0) return;
    try {
      await otelContext.with(ROOT_CONTEXT, () =>
        this.pool.query(
          `UPDATE projections p SET published_offset = GREATEST(p.published_offset, v.published)
         FROM unnest($1::text[], $2::bigint[]) AS v(shard_id, published)
         WHERE p.shard_id = v.shard_id`,
          [published.shards, published.offsets],
        ),
      );
    } catch (err) {
      this.restorePublished(published);
      throw err;
    }
  }

  private takePublished(): { shards: string[]; offsets: number[] } {
    const shards = [...this.published.keys()];
    const offsets = shards.map((s) => this.published.get(s)!);
    this.published.clear();
    return { shards, offsets };
  }

  private restorePublished(published: { shards: string[]; offsets: number[] }): void {
    published.shards.forEach((shard, i) =>
      this.published.set(shard, Math.max(published.offsets[i]!, this.published.get(shard) ?? 0)),
    );
  }

  private async write(): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 0) return;
    const rows = batch.flatMap((save) => save.messages.map((m) => ({ m, shardId: save.shardId })));
    const published = this.takePublished();
    // one row per shard (a statement may update a row only once): its new next offset and/or
    // its published offset
    const byShard = new Map<string, { next: number | null; published: number | null }>();
    for (const save of batch) byShard.set(save.shardId, { next: save.next, published: null });
    published.shards.forEach((shardId, i) => {
      const entry = byShard.get(shardId) ?? { next: null, published: null };
      entry.published = published.offsets[i]!;
      byShard.set(shardId, entry);
    });
    const positions = [...byShard].map(([shardId, p]) => ({ shardId, ...p }));
    try {
      // the first save's context (its first message's span) carries the query into a trace
      const { rows: ids } = await otelContext.with(batch[0]?.context ?? ROOT_CONTEXT, () =>
        this.pool.query<{ id: string }>(
          `WITH ins AS (
             INSERT INTO messages (id, session_id, seq, shard_id, sender_id, client_msg_id, body, sent_at, trace_id)
             SELECT id, session_id, seq, shard_id, sender_id, client_msg_id, body, to_timestamp(sent_ms / 1000.0), trace_id
             FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::text[])
               AS t(id, session_id, seq, shard_id, sender_id, client_msg_id, body, sent_ms, trace_id)
             ON CONFLICT (id) DO NOTHING
             RETURNING id, session_id, seq
           ), moved AS (
             UPDATE sessions s SET last_seq = GREATEST(s.last_seq, top.seq)
             FROM (SELECT session_id, max(seq) AS seq FROM ins GROUP BY session_id) top
             WHERE s.id = top.session_id
           ), positions AS (
             UPDATE projections p
             SET next_offset = COALESCE(v.next, p.next_offset),
                 published_offset = GREATEST(p.published_offset, COALESCE(v.published, 0))
             FROM unnest($10::text[], $11::bigint[], $12::bigint[]) AS v(shard_id, next, published)
             WHERE p.shard_id = v.shard_id
           )
           SELECT id FROM ins`,
          [
            rows.map(({ m }) => m.messageId),
            rows.map(({ m }) => m.sessionId),
            rows.map(({ m }) => m.seq),
            rows.map(({ shardId }) => shardId),
            rows.map(({ m }) => m.senderId),
            rows.map(({ m }) => m.clientMsgId ?? null),
            rows.map(({ m }) => m.text),
            rows.map(({ m }) => m.sentAtMs),
            rows.map(({ m }) => parseTraceparent(m.traceparent)?.traceId ?? null),
            positions.map((p) => p.shardId),
            positions.map((p) => p.next),
            positions.map((p) => p.published),
          ],
        ),
      );
      const inserted = new Set(ids.map((r) => r.id));
      for (const save of batch) save.resolve(inserted);
    } catch (err) {
      this.restorePublished(published);
      for (const save of batch) save.reject(err);
    }
  }
}
