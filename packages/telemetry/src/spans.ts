import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Attributes, Context, Link, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { Attr } from '@tracechat/contracts';

export { SpanKind };
export type { Attributes, Span };

const RECORDED = Symbol.for('tracechat.exceptionRecorded');

const DEFAULT_TRACER = 'tracechat';

let cached: { provider: TracerProvider; tracer: Tracer } | undefined;

/**
 * A tracer of the global tracer provider. The default one is looked up once per provider, not per
 * span (the SDK's lookup builds a key string and searches a map each time); a provider set later,
 * as tests do, is still picked up.
 */
export function getTracer(name = DEFAULT_TRACER): Tracer {
  if (name !== DEFAULT_TRACER) return trace.getTracer(name);
  // the global provider is a proxy; the SDK's provider is its delegate once one is registered
  const global = trace.getTracerProvider() as TracerProvider & { getDelegate?(): TracerProvider };
  const provider = global.getDelegate?.() ?? global;
  if (cached?.provider !== provider) {
    cached = { provider, tracer: provider.getTracer(DEFAULT_TRACER) };
  }
  return cached.tracer;
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

function isPromiseLike<T>(value: Promise<T> | T): value is Promise<T> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Partial<PromiseLike<T>>).then === 'function'
  );
}

/**
 * Runs `fn` inside a new active span and ends it. An error thrown by `fn` sets the span's
 * status to ERROR and travels on; its exception event is recorded once, on the innermost span.
 * A synchronous `fn` ends its span at once, without waiting for a microtask.
 */
export function withSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const parent = options.parent ?? context.active();
  // the SDK reads kind, attributes and links (and ignores the rest): no copy of the options
  const span = getTracer().startSpan(name, options, parent);
  let result: Promise<T> | T;
  try {
    result = context.with(trace.setSpan(parent, span), fn, undefined, span);
  } catch (err) {
    recordError(span, err);
    span.end();
    return Promise.reject(err);
  }
  if (!isPromiseLike(result)) {
    span.end();
    return Promise.resolve(result);
  }
  return Promise.resolve(result).then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      recordError(span, err);
      span.end();
      throw err;
    },
  );
}

/** Marks the span failed and records the exception unless an inner span already did. */
export function recordError(span: Span, err: unknown): void {
  // an unsampled span keeps nothing: skip the stack trace and the rest
  if (!span.isRecording()) return;
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

/** Adds attributes to the active span, if it records (an unsampled one would drop them). */
export function setAttributes(attributes: Attributes): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttributes(attributes);
}
