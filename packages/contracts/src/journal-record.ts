import { messageEventFields } from './events';
import type { MessageEvent } from './events';

/**
 * A chat message as the journal stores it: the record's `data` (JSON, version 1). The journal
 * assigns `seq`; everything the projections need later (the Postgres row, the JetStream event
 * and its trace context) is in the record, so a replay needs nothing else.
 */
export interface MessageRecord extends MessageEvent {
  /** Per session, contiguous from 1, in offset order within the shard. */
  readonly seq: number;
  /** The sender's idempotency key, scoped to (session, sender); absent when not given. */
  readonly clientMsgId?: string;
  /** W3C trace context of the append; the projection spans are its children. */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

export const MESSAGE_RECORD_VERSION = 1;

export class RecordDecodeError extends Error {
  override readonly name = 'RecordDecodeError';
  readonly code = 'BAD_RECORD';
}

export function encodeMessageRecord(record: MessageRecord): Buffer {
  return Buffer.from(JSON.stringify({ v: MESSAGE_RECORD_VERSION, kind: 'message', ...record }));
}

/**
 * What a record's data holds: a versioned message record, a `legacy` message written by the
 * write path before the journal assigned seqs (its seq was its offset + 1 and its row was
 * written by logic itself), or `other` (records appended through the generic Append call).
 */
export type DecodedRecord =
  | { readonly kind: 'message'; readonly message: MessageRecord }
  | {
      readonly kind: 'legacy';
      readonly messageId: string;
      readonly senderId: string;
      readonly clientMsgId?: string;
      readonly text: string;
      readonly sentAtMs: number;
    }
  | { readonly kind: 'other' };

/** Classifies a record's data; throws RecordDecodeError for a version-1 record that is malformed. */
export function decodeRecordData(data: Uint8Array): DecodedRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return { kind: 'other' };
  }
  if (typeof raw !== 'object' || raw === null) return { kind: 'other' };
  const r = raw as Record<string, unknown>;
  if (r.v === MESSAGE_RECORD_VERSION && r.kind === 'message') {
    const optional = (key: string) => (typeof r[key] === 'string' ? (r[key] as string) : undefined);
    return {
      kind: 'message',
      message: {
        ...messageEventFields(r, (message) => new RecordDecodeError(`record ${message}`)),
        clientMsgId: optional('clientMsgId'),
        traceparent: optional('traceparent'),
        tracestate: optional('tracestate'),
      },
    };
  }
  if (
    r.v === undefined &&
    typeof r.messageId === 'string' &&
    typeof r.senderId === 'string' &&
    typeof r.text === 'string' &&
    Number.isSafeInteger(r.sentAtMs)
  ) {
    return {
      kind: 'legacy',
      messageId: r.messageId,
      senderId: r.senderId,
      clientMsgId: typeof r.clientMsgId === 'string' ? r.clientMsgId : undefined,
      text: r.text,
      sentAtMs: r.sentAtMs as number,
    };
  }
  return { kind: 'other' };
}
