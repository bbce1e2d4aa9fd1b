import { createHash } from 'node:crypto';
import { decodeRecordData, encodeMessageRecord } from '@tracechat/contracts';
import type { MessageRecord } from '@tracechat/contracts';
import { InvalidArgumentError, MessageConflictError, MAX_SESSION_ID_BYTES } from './storage';
import type { JournalStore } from './storage';

/** A message to append; the log assigns its seq. */
export type NewMessage = Omit<MessageRecord, 'seq'>;

export interface AppendedMessage {
  readonly messageId: string;
  readonly seq: number;
  readonly sentAtMs: number;
  readonly duplicate: boolean;
  /** The record's offset (for a duplicate: the original's). */
  readonly offset: number;
}

interface KeyEntry {
  readonly messageId: string;
  readonly seq: number;
  readonly sentAtMs: number;
  readonly textHash: string;
  offset: number;
  /** Set while the original append is in flight: a duplicate answers once it is durable. */
  durable: Promise<void> | undefined;
}

/** Per-shard state of the one writer: each session's next seq and the idempotency keys. */
interface ShardMessages {
  readonly nextSeq: Map<string, number>;
  readonly keys: Map<string, KeyEntry>;
}

const READ_BATCH = 1000;

/** How long a client_msg_id is remembered by default: twice the 24 hours the protocol promises. */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 48 * 3600 * 1000;

/**
 * Forgets the keys of messages sent more than `windowMs` before `nowMs`. Keys sit in the map in
 * append order, so the oldest are first: the loop stops at the first key still inside the window
 * (one lookup per append in the steady state). The clock is the messages' own `sent_at`, not the
 * node's, so a rebuild after a restart forgets exactly what the running node had forgotten.
 */
function forgetOldKeys(keys: Map<string, KeyEntry>, nowMs: number, windowMs: number): void {
  for (const [key, entry] of keys) {
    if (entry.sentAtMs >= nowMs - windowMs || entry.durable) return;
    keys.delete(key);
  }
}

function textHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

function keyOf(sessionId: string, senderId: string, clientMsgId: string): string {
  return `${sessionId}\u0000${senderId}\u0000${clientMsgId}`;
}

/**
 * The message layer of a journal node: for every shard it owns, the single place that assigns
 * per-session seqs (contiguous from 1, in offset order) and enforces client_msg_id idempotency per
 * (session, sender) for `idempotencyWindowMs` after a message's `sent_at` (then the key is
 * forgotten, so memory holds a window of keys, not every key ever sent). Both are rebuilt from the shard's records when a shard is first used after
 * the node starts, so a restart answers exactly as before it.
 *
 * Seq order equals offset order because the seq is taken and the record queued in the same
 * synchronous step: the shard's writer assigns offsets in queue order.
 */
export class MessageLog {
  private readonly shards = new Map<string, ShardMessages>();
  private readonly loading = new Map<string, Promise<ShardMessages>>();

  /**
   * `guard` runs before a shard is first used (and before it is created): it throws to refuse a
   * shard, e.g. one whose records were lost. `onAppended` hears of every durable message, with its offset and record.
   */
  constructor(
    private readonly store: JournalStore,
    private readonly onAppended: (
      shardId: string,
      offset: number,
      record: MessageRecord,
    ) => void = () => undefined,
    private readonly guard: (shardId: string) => Promise<void> = async () => undefined,
    /** How long after its `sent_at` a client_msg_id is still answered as a duplicate. */
    private readonly idempotencyWindowMs = DEFAULT_IDEMPOTENCY_WINDOW_MS,
  ) {}

  /**
   * Appends a message and resolves once it is durable. A repeated client_msg_id with the same
   * text resolves with the original (duplicate: true, nothing written); with another text it
   * rejects with MessageConflictError. Rejects with InvalidArgumentError for a record the store
   * would refuse (nothing written, no seq taken) and with the store's errors otherwise.
   */
  async append(shardId: string, message: NewMessage): Promise<AppendedMessage> {
    const state = await this.stateFor(shardId);
    const hash = textHash(message.text);
    const key =
      message.clientMsgId === undefined
        ? undefined
        : keyOf(message.sessionId, message.senderId, message.clientMsgId);
    let seen = key === undefined ? undefined : state.keys.get(key);
    if (seen && !seen.durable && seen.sentAtMs < message.sentAtMs - this.idempotencyWindowMs) {
      // past its window: the key is free again (as a rebuild from the records would find it)
      state.keys.delete(key!);
      seen = undefined;
    }
    if (seen) {
      if (seen.textHash !== hash) {
        throw new MessageConflictError(
          `client_msg_id ${message.clientMsgId ?? ''} was already used for a different text in this session`,
        );
      }
      if (seen.durable) await seen.durable;
      return {
        messageId: seen.messageId,
        seq: seen.seq,
        sentAtMs: seen.sentAtMs,
        duplicate: true,
        offset: seen.offset,
      };
    }
    const seq = state.nextSeq.get(message.sessionId) ?? 1;
    const record: MessageRecord = { ...message, seq };
    const data = encodeMessageRecord(record);
    const idBytes = Buffer.byteLength(message.sessionId, 'utf8');
    if (idBytes === 0 || idBytes > MAX_SESSION_ID_BYTES) {
      throw new InvalidArgumentError(`session id must be 1-${MAX_SESSION_ID_BYTES} UTF-8 bytes`);
    }
    if (data.length > this.store.options.maxRecordBytes) {
      throw new InvalidArgumentError(
        `message record of ${data.length} bytes exceeds ${this.store.options.maxRecordBytes}`,
      );
    }
    // From here to the queued append nothing awaits: seqs are taken in queue (= offset) order.
    state.nextSeq.set(message.sessionId, seq + 1);
    const appended = this.store.append(shardId, [{ sessionId: message.sessionId, data }]);
    let entry: KeyEntry | undefined;
    if (key !== undefined) {
      const durable = appended.then(() => undefined);
      durable.catch(() => undefined);
      entry = {
        messageId: message.messageId,
        seq,
        sentAtMs: message.sentAtMs,
        textHash: hash,
        offset: -1,
        durable,
      };
      state.keys.set(key, entry);
      forgetOldKeys(state.keys, message.sentAtMs, this.idempotencyWindowMs);
    }
    try {
      const result = await appended;
      if (entry) {
        entry.offset = result.firstOffset;
        entry.durable = undefined;
      }
      this.onAppended(shardId, result.firstOffset, record);
      return {
        messageId: message.messageId,
        seq,
        sentAtMs: message.sentAtMs,
        duplicate: false,
        offset: result.firstOffset,
      };
    } catch (err) {
      // The shard refuses appends after a failed write; its state is rebuilt when it reopens.
      if (key !== undefined && state.keys.get(key) === entry) state.keys.delete(key);
      throw err;
    }
  }

  /** The shard's message state, created (with the shard) or rebuilt from its records once. */
  private async stateFor(shardId: string): Promise<ShardMessages> {
    const ready = this.shards.get(shardId);
    if (ready) return ready;
    let pending = this.loading.get(shardId);
    if (!pending) {
      pending = this.rebuild(shardId).finally(() => this.loading.delete(shardId));
      this.loading.set(shardId, pending);
    }
    return pending;
  }

  private async rebuild(shardId: string): Promise<ShardMessages> {
    await this.guard(shardId);
    const info = await this.store.createShard(shardId);
    const state: ShardMessages = { nextSeq: new Map(), keys: new Map() };
    let latestSentAtMs = 0;
    for (let from = info.firstOffset; from < info.nextOffset;) {
      const records = await this.store.read(shardId, from, { maxRecords: READ_BATCH });
      if (records.length === 0) break;
      for (const record of records) {
        const decoded = decodeRecordData(record.data);
        if (decoded.kind === 'other') continue;
        // Records from before the journal assigned seqs carried seq = offset + 1; new seqs
        // continue above them.
        const m =
          decoded.kind === 'message'
            ? decoded.message
            : { ...decoded, sessionId: record.sessionId, seq: record.offset + 1 };
        if (m.sentAtMs > latestSentAtMs) latestSentAtMs = m.sentAtMs;
        const next = state.nextSeq.get(m.sessionId) ?? 1;
        if (m.seq >= next) state.nextSeq.set(m.sessionId, m.seq + 1);
        if (m.clientMsgId !== undefined) {
          const key = keyOf(m.sessionId, m.senderId, m.clientMsgId);
          const have = state.keys.get(key);
          // a key reused after its window names the newer message, as the running node answered
          if (!have || have.sentAtMs < m.sentAtMs - this.idempotencyWindowMs) {
            state.keys.delete(key);
            state.keys.set(key, {
              messageId: m.messageId,
              seq: m.seq,
              sentAtMs: m.sentAtMs,
              textHash: textHash(m.text),
              offset: record.offset,
              durable: undefined,
            });
          }
        }
      }
      from = records[records.length - 1]!.offset + 1;
      forgetOldKeys(state.keys, latestSentAtMs, this.idempotencyWindowMs);
    }
    this.shards.set(shardId, state);
    return state;
  }
}
