import { context, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span } from '@opentelemetry/api';
import { getTracer, recordError, spanClockNow } from '@tracechat/telemetry';
import { Attr, SpanName } from '@tracechat/contracts';

export const SPAN_SEGMENT_APPEND = SpanName.JOURNAL_SEGMENT_APPEND;
export const SPAN_INDEX_UPDATE = SpanName.JOURNAL_INDEX_UPDATE;
export const SPAN_SEGMENT_FSYNC = SpanName.JOURNAL_SEGMENT_FSYNC;
export const SPAN_READ = SpanName.JOURNAL_READ;

export const ATTR_SHARD_ID = Attr.SHARD_ID;
export const ATTR_BATCH_SIZE = Attr.JOURNAL_BATCH_SIZE;
export const ATTR_BATCH_APPENDS = Attr.JOURNAL_BATCH_APPENDS;
export const ATTR_BATCH_BYTES = Attr.JOURNAL_BATCH_BYTES;
export const ATTR_APPEND_RECORDS = Attr.JOURNAL_APPEND_RECORDS;
export const ATTR_SEGMENT_BASE = Attr.JOURNAL_SEGMENT_BASE_OFFSET;
export const ATTR_INDEX_ENTRIES = Attr.JOURNAL_INDEX_ENTRIES_ADDED;
export const ATTR_READ_FROM = Attr.JOURNAL_READ_FROM_OFFSET;
export const ATTR_READ_COUNT = Attr.JOURNAL_READ_RECORD_COUNT;
export const ATTR_READ_BYTES = Attr.JOURNAL_READ_BYTES;

/**
 * Epoch milliseconds with sub-millisecond precision on the span clock, the clock every other
 * span of the process starts by: a stage timed with it never starts before its parent.
 */
export function now(): number {
  return spanClockNow();
}

/**
 * True when `ctx` holds a span to hang children on. Storage spans are only ever children: an
 * append or read outside any trace would otherwise start a stray trace per operation.
 */
export function hasParentSpan(ctx: Context): boolean {
  const parent = trace.getSpanContext(ctx);
  return parent !== undefined && trace.isSpanContextValid(parent);
}

/** One stage of a batch shared by several appends, as it ran (or until it failed). */
export interface Stage {
  name: string;
  start: number;
  end: number;
  attributes?: Attributes;
}

/**
 * Creates, under one caller's captured context, a span per stage of the batch it shared, with the
 * stages' real times. `failure` marks the stage that failed (it gets the error recorded); stages
 * after it are not created.
 */
export function emitBatchSpans(
  parent: Context,
  stages: readonly Stage[],
  attributes: Attributes,
  failure?: { stage: string; error: unknown },
): void {
  if (!hasParentSpan(parent)) return;
  const tracer = getTracer();
  for (const stage of stages) {
    const span = tracer.startSpan(
      stage.name,
      { startTime: stage.start, attributes: { ...attributes, ...stage.attributes } },
      parent,
    );
    if (failure?.stage === stage.name) {
      recordError(span, failure.error);
      span.end(stage.end);
      return;
    }
    span.end(stage.end);
  }
}

/** Runs a read inside a `journal.read` span when there is a parent span; the span gets the result's size. */
export async function tracedRead<T extends { length: number }>(
  attributes: Attributes,
  bytesOf: (result: T) => number,
  fn: () => Promise<T>,
): Promise<T> {
  const parent = context.active();
  if (!hasParentSpan(parent)) return fn();
  const span: Span = getTracer().startSpan(SPAN_READ, { attributes }, parent);
  try {
    const result = await context.with(trace.setSpan(parent, span), fn);
    span.setAttributes({ [ATTR_READ_COUNT]: result.length, [ATTR_READ_BYTES]: bytesOf(result) });
    return result;
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}
