import type {
  AppendMessageRequest__Output,
  AppendMessageResponse,
  AppendRequest__Output,
  AppendResponse,
  ReadRequest__Output,
  ReadResponse,
  ShardInfoRequest__Output,
  ShardInfoResponse,
} from '@tracechat/protos';
import { carrierFromContext, withSpan } from '@tracechat/telemetry';
import type { MessageLog } from './messages';
import { InvalidArgumentError } from './storage';
import type { JournalStore } from './storage';
import { Attr, IdRules, SpanName, isClientMsgId, isSessionId, isUserId } from '@tracechat/contracts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The latest instant a JavaScript Date can hold (and so every reader of `sent_at`). */
const MAX_TIME_MS = 8.64e15;

/**
 * What makes a message one the projection could never store in Postgres, if anything: once in
 * a shard, such a record would stop that shard's projection for good (it retries forever).
 */
function unstorable(req: AppendMessageRequest__Output): string | undefined {
  if (!UUID.test(req.messageId)) return 'message_id must be a UUID';
  if (!isSessionId(req.sessionId)) return `session_id must be ${IdRules.session}`;
  if (!isUserId(req.senderId)) return `sender_id must be ${IdRules.user}`;
  if (req.clientMsgId && !isClientMsgId(req.clientMsgId)) {
    return `client_msg_id must be ${IdRules.clientMsgId}`;
  }
  const sentAtMs = Number(req.sentAtMs);
  if (!Number.isSafeInteger(sentAtMs) || sentAtMs < 0 || sentAtMs > MAX_TIME_MS) {
    return 'sent_at_ms must be a time from 1970 to the largest a Date holds';
  }
  if (req.text.includes('\u0000')) return 'text must not contain NUL';
  return undefined;
}

/** Hard bounds of one Read, and what hears a request asking for more. */
export interface ReadLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly onClamped: (limit: 'max_records' | 'max_bytes', asked: number, max: number) => void;
}

/** What Read returns when a request leaves a limit at 0 (proto: "the node's default"). */
const READ_DEFAULT_RECORDS = 1000;
const READ_DEFAULT_BYTES = 1024 * 1024;

/** JournalService over the storage engine, one span per call. */
export class JournalService {
  constructor(
    private readonly store: JournalStore,
    private readonly messages: MessageLog,
    private readonly readLimits: ReadLimits,
  ) {}

  appendMessage(req: AppendMessageRequest__Output): Promise<AppendMessageResponse> {
    for (const [name, value] of [
      ['session_id', req.sessionId],
      ['message_id', req.messageId],
      ['sender_id', req.senderId],
    ] as const) {
      if (!value) throw new InvalidArgumentError(`${name} is required`);
    }
    const problem = unstorable(req);
    if (problem) throw new InvalidArgumentError(problem);
    return withSpan(
      SpanName.JOURNAL_APPEND_MESSAGE,
      {
        attributes: {
          [Attr.SHARD_ID]: req.shardId,
          [Attr.SESSION_ID]: req.sessionId,
          [Attr.MESSAGE_ID]: req.messageId,
        },
      },
      async (span) => {
        // The record keeps this span's context: the projection spans become its children.
        const carrier = carrierFromContext();
        const result = await this.messages.append(req.shardId, {
          messageId: req.messageId,
          sessionId: req.sessionId,
          senderId: req.senderId,
          text: req.text,
          sentAtMs: Number(req.sentAtMs),
          clientMsgId: req.clientMsgId || undefined,
          originGatewayId: req.originGatewayId,
          originConnectionId: req.originConnectionId,
          traceparent: carrier.traceparent,
          tracestate: carrier.tracestate,
        });
        span.setAttributes({
          [Attr.MESSAGE_SEQ]: result.seq,
          [Attr.DUPLICATE]: result.duplicate,
          [Attr.JOURNAL_OFFSET]: result.offset,
        });
        return result;
      },
    );
  }

  append(req: AppendRequest__Output): Promise<AppendResponse> {
    const bytes = req.records.reduce((sum, r) => sum + r.data.length, 0);
    return withSpan(
      SpanName.JOURNAL_WRITE,
      {
        attributes: {
          [Attr.SHARD_ID]: req.shardId,
          [Attr.JOURNAL_APPEND_RECORDS]: req.records.length,
          [Attr.JOURNAL_APPEND_BYTES]: bytes,
        },
      },
      async (span) => {
        const result = await this.store.append(
          req.shardId,
          req.records.map((r) => ({ sessionId: r.sessionId, data: r.data })),
        );
        span.setAttributes({
          [Attr.JOURNAL_OFFSET_FIRST]: result.firstOffset,
          [Attr.JOURNAL_OFFSET_LAST]: result.lastOffset,
        });
        const offsets: number[] = [];
        for (let o = result.firstOffset; o <= result.lastOffset; o++) offsets.push(o);
        return { offsets, timestampMs: result.timestamp };
      },
    );
  }

  /**
   * Records from `fromOffset`: at most `maxRecords` and `maxBytes` of the request, 0 meaning the
   * defaults (1000, 1 MiB), and never more than the node's JOURNAL_READ_MAX_RECORDS and
   * JOURNAL_READ_MAX_BYTES: a larger ask is lowered to them (and reported), not refused.
   */
  async read(req: ReadRequest__Output): Promise<ReadResponse> {
    const limits = this.readLimits;
    const bound = (
      asked: number,
      fallback: number,
      max: number,
      name: 'max_records' | 'max_bytes',
    ) => {
      if (asked === 0) return Math.min(fallback, max);
      if (asked > max) {
        limits.onClamped(name, asked, max);
        return max;
      }
      return asked;
    };
    const records = await this.store.read(req.shardId, req.fromOffset, {
      maxRecords: bound(req.maxRecords, READ_DEFAULT_RECORDS, limits.maxRecords, 'max_records'),
      maxBytes: bound(req.maxBytes, READ_DEFAULT_BYTES, limits.maxBytes, 'max_bytes'),
    });
    return {
      records: records.map((r) => ({
        offset: r.offset,
        timestampMs: r.timestamp,
        sessionId: r.sessionId,
        data: r.data,
      })),
      nextOffset: records.length > 0 ? records[records.length - 1]!.offset + 1 : req.fromOffset,
    };
  }

  async shardInfo(req: ShardInfoRequest__Output): Promise<ShardInfoResponse> {
    const info = this.store.info(req.shardId);
    return {
      firstOffset: info.firstOffset,
      nextOffset: info.nextOffset,
      segments: info.segmentCount,
      bytes: info.bytes,
      lastTimestampMs: info.lastTimestamp,
    };
  }
}
