import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import type { Context, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export interface ParsedTraceparent {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

/**
 * Parses a W3C traceparent strictly: lower-case hex only, version ff refused, non-zero ids,
 * exact lengths, and no extra fields for version 00. Returns undefined for anything else.
 */
export function parseTraceparent(value: unknown): ParsedTraceparent | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const match = TRACEPARENT.exec(value);
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** Trace context as carried in a WebSocket frame or any plain object. */
export interface TraceCarrier {
  traceparent?: unknown;
  tracestate?: unknown;
}

const w3c = new W3CTraceContextPropagator();

const objectGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};

const objectSetter: TextMapSetter<Record<string, unknown>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * The context an incoming carrier asks for: its remote parent when the traceparent is valid,
 * otherwise the root context (a new trace starts; an invalid traceparent is never adopted).
 */
export function contextFromCarrier(carrier: TraceCarrier, base: Context = ROOT_CONTEXT): Context {
  if (!parseTraceparent(carrier.traceparent)) return trace.deleteSpan(base);
  const fields: Record<string, unknown> = { traceparent: carrier.traceparent };
  if (typeof carrier.tracestate === 'string' && carrier.tracestate.length <= 512) {
    fields.tracestate = carrier.tracestate;
  }
  return w3c.extract(trace.deleteSpan(base), fields, objectGetter);
}

/** traceparent/tracestate of the given (default: active) context, for frames and payloads. */
export function carrierFromContext(ctx: Context = context.active()): {
  traceparent?: string;
  tracestate?: string;
} {
  const carrier: Record<string, unknown> = {};
  w3c.inject(ctx, carrier, objectSetter);
  return carrier as { traceparent?: string; tracestate?: string };
}

/** Header maps such as NATS `MsgHdrs`: anything with get/set by name. */
export interface HeaderMap {
  get(name: string): string;
  set(name: string, value: string): void;
  has?(name: string): boolean;
}

/** Writes the active context's traceparent/tracestate (and baggage) into headers. */
export function injectHeaders(headers: HeaderMap, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, {
    set: (carrier, key, value) => carrier.set(key, value),
  });
}

/** Reads a context from headers; invalid or missing trace headers give the root context. */
export function extractHeaders(headers: HeaderMap | undefined): Context {
  if (!headers) return ROOT_CONTEXT;
  const traceparent = headers.get('traceparent');
  if (!parseTraceparent(traceparent)) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, {
    keys: () => ['traceparent', 'tracestate', 'baggage'],
    get: (carrier, key) => carrier.get(key) || undefined,
  });
}

/**
 * What batched RPCs need from tracing: the caller's context as a carrier, a call run under its
 * carrier's context (a root one when it has none), and the batch RPC itself outside every trace.
 */
export const batchTracing = {
  capture(): { traceparent: string; tracestate: string } {
    const carrier = carrierFromContext();
    return { traceparent: carrier.traceparent ?? '', tracestate: carrier.tracestate ?? '' };
  },
  run<T>(carrier: TraceCarrier | null | undefined, fn: () => Promise<T>): Promise<T> {
    return context.with(contextFromCarrier(carrier ?? {}), fn);
  },
  detached<T>(fn: () => T): T {
    return context.with(ROOT_CONTEXT, fn);
  },
};
