import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Attributes, Context, Link, Span, Tracer } from '@opentelemetry/api';
import { Attr } from '@tracechat/contracts';

export { SpanKind };
export type { Attributes, Span };

const RECORDED = Symbol.for('tracechat.exceptionRecorded');

export function getTracer(name = 'tracechat'): Tracer {
  return trace.getTracer(name);
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent context; the active one when omitted. */
  parent?: Context;
  links?: Link[];
  /** Do not mark the span as failed for errors the caller expects (they are still recorded). */
  isExpectedError?: (err: unknown) => boolean;
}

/**
 * Runs `fn` inside a new active span and ends it. An error thrown by `fn` sets the span's
 * status to ERROR and travels on; its exception event is recorded once, on the innermost span.
 */
export async function withSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const tracer = getTracer();
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      attributes: options.attributes,
      links: options.links,
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Marks the span failed and records the exception unless an inner span already did. */
export function recordError(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  const code = (error as { code?: unknown }).code;
  if (!(error as unknown as Record<symbol, boolean>)[RECORDED]) {
    span.recordException(error);
    try {
      Object.defineProperty(error, RECORDED, { value: true, enumerable: false });
    } catch {
      // frozen error: it may be recorded again, which is harmless
    }
  }
  if (typeof code === 'string') span.setAttribute(Attr.ERROR_TYPE, code);
  else span.setAttribute(Attr.ERROR_TYPE, error.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/** The active span's trace id, or undefined outside any span. */
export function currentTraceId(ctx: Context = context.active()): string | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

export function setAttributes(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}
