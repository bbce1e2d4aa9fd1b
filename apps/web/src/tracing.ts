import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import type { Span, SpanContext, Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, WebTracerProvider } from '@opentelemetry/sdk-trace-web';

/** Span and attribute names the page records (docs/tracing.md, "In the browser"). */
export const WebSpans = {
  send: 'web.chat.send',
  render: 'web.chat.render',
} as const;

export const WebAttributes = {
  sessionId: 'chat.session.id',
  messageId: 'chat.message.id',
  clientMsgId: 'chat.client_msg_id',
  seq: 'chat.message.seq',
  debug: 'chat.debug',
  retries: 'chat.send.retries',
} as const;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The W3C traceparent of a span's context. */
export function formatTraceparent(context: SpanContext): string {
  const flags = (context.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  return `00-${context.traceId}-${context.spanId}-${flags}`;
}

/** A remote span context from a W3C traceparent, or null when it is malformed or all zeros. */
export function parseTraceparent(value: string | undefined): SpanContext | null {
  const match = value ? TRACEPARENT.exec(value) : null;
  if (!match) return null;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
}

/**
 * The page's tracer: spans are batched and posted as OTLP/HTTP JSON to the gateway, which checks
 * the token and forwards them to the collector as service `web`.
 */
export class BrowserTracing {
  private readonly provider: WebTracerProvider;
  private readonly tracer: Tracer;

  constructor(token: string, otlpPath: string) {
    this.provider = new WebTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'web' }),
      spanProcessors: [
        new BatchSpanProcessor(
          new OTLPTraceExporter({
            url: new URL(otlpPath, location.href).href,
            headers: { Authorization: `Bearer ${token}` },
          }),
          { scheduledDelayMillis: 500, maxExportBatchSize: 128 },
        ),
      ],
    });
    this.tracer = this.provider.getTracer('@tracechat/web');
  }

  /** Starts `web.chat.send` as the root of a new trace; its traceparent goes into the send frame. */
  startSend(session: string, clientMsgId: string, debug: boolean): Span {
    return this.tracer.startSpan(
      WebSpans.send,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [WebAttributes.sessionId]: session,
          [WebAttributes.clientMsgId]: clientMsgId,
          ...(debug ? { [WebAttributes.debug]: true } : {}),
        },
      },
      ROOT_CONTEXT,
    );
  }

  /** Starts `web.chat.render` under the push's traceparent (a new trace when it has none). */
  startRender(session: string, messageId: string, seq: number, pushTraceparent?: string): Span {
    const parent = parseTraceparent(pushTraceparent);
    const context = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    return this.tracer.startSpan(
      WebSpans.render,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [WebAttributes.sessionId]: session,
          [WebAttributes.messageId]: messageId,
          [WebAttributes.seq]: seq,
        },
      },
      context,
    );
  }

  /** Records a failure on a span and ends it. */
  static fail(span: Span, error: Error): void {
    span.recordException({ name: error.name, message: error.message });
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.name });
    span.end();
  }

  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
