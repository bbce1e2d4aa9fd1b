/**
 * Browser spans (OTLP/HTTP JSON, as @opentelemetry/exporter-trace-otlp-http sends it) on their
 * way from a signed-in browser to the collector. Nothing the browser says about who it is is
 * kept: the resource is rebuilt with `service.name` = `web` and `enduser.id` = the token's user,
 * and only a small set of attribute keys survives (docs/tracing.md, "Browser spans"), so a page
 * can neither pass for a service nor put message text into a trace.
 */
import { Attr, HttpErrorCode } from '@tracechat/contracts';
import { HttpError } from './http-errors';

/** The service name every browser span is given, whatever the page said. */
export const WEB_SERVICE_NAME = 'web';
/** Spans one request may carry (the browser exporter's batches are at most 512 by default). */
export const MAX_SPANS_PER_REQUEST = 512;
/** How long the collector has to take a batch before the browser is answered 503. */
export const FORWARD_TIMEOUT_MS = 3000;

const MAX_EVENTS_PER_SPAN = 32;
const MAX_LINKS_PER_SPAN = 32;
const MAX_NAME_LENGTH = 128;
/** Longer string values are dropped: ids fit (a session or user id is at most 128 characters). */
const MAX_STRING_VALUE_LENGTH = 128;

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
/** Span and event names: printable ASCII words, dots, colons, slashes, spaces and dashes. */
const NAME = /^[A-Za-z0-9_.:/ -]{1,128}$/;
const UNIX_NANOS = /^\d{1,20}$/;

/** Exact attribute keys a browser span may carry besides the `chat.*` and `browser.*` ones. */
const ALLOWED_SPAN_KEYS: ReadonlySet<string> = new Set([
  Attr.ERROR_TYPE,
  'exception.type',
  'http.request.method',
  'http.response.status_code',
  'http.method',
  'http.status_code',
]);
const ALLOWED_SPAN_PREFIXES = ['chat.', 'browser.'] as const;
/** Words that mark a key as content rather than metadata (`chat.message.text`, `chat.body`). */
const CONTENT_WORDS = /text|body|content|payload|token|secret|password|url|query|cookie/i;
/** Resource attributes kept from the page (the SDK's own identity); the rest is dropped. */
const ALLOWED_RESOURCE_PREFIXES = ['telemetry.sdk.', 'browser.'] as const;
const ALLOWED_RESOURCE_KEYS: ReadonlySet<string> = new Set([
  'service.version',
  'user_agent.original',
]);

type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string | number }
  | { doubleValue: number };

export interface KeyValue {
  readonly key: string;
  readonly value: AnyValue;
}

export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: KeyValue[];
  readonly events: { timeUnixNano: string; name: string; attributes: KeyValue[] }[];
  readonly links: { traceId: string; spanId: string }[];
  readonly status: { code: number };
}

/** The OTLP JSON body forwarded to the collector. */
export interface OtlpTraces {
  readonly resourceSpans: {
    resource: { attributes: KeyValue[] };
    scopeSpans: { scope: { name: string; version?: string }; spans: OtlpSpan[] }[];
  }[];
}

export interface SanitizedSpans {
  readonly payload: OtlpTraces;
  readonly spans: number;
}

/** A body with more spans than one request may carry. */
export class TooManySpans extends HttpError {
  constructor(readonly spans: number) {
    super(413, HttpErrorCode.TOO_LARGE, `at most ${MAX_SPANS_PER_REQUEST} spans per request`);
  }
}

function invalid(message: string): HttpError {
  return new HttpError(400, HttpErrorCode.INVALID_REQUEST, message);
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${what} must be an object`);
  }
  return value as Record<string, unknown>;
}

/** An optional array: absent is empty; anything but an array is refused. */
function asArray(value: unknown, what: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`${what} must be an array`);
  return value;
}

function unixNanos(value: unknown, what: string): string {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !UNIX_NANOS.test(text) || BigInt(text) === 0n) {
    throw invalid(`${what} must be a time in nanoseconds since the epoch`);
  }
  return text;
}

function hexId(value: unknown, pattern: RegExp, zero: string, what: string): string {
  const id = typeof value === 'string' ? value.toLowerCase() : value;
  if (typeof id !== 'string' || !pattern.test(id) || id === zero) {
    throw invalid(`${what} must be ${pattern === TRACE_ID ? 32 : 16} hex digits, not all zero`);
  }
  return id;
}

function name(value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw invalid(`${what} must be 1-${MAX_NAME_LENGTH} letters, digits, spaces or . _ : / -`);
  }
  return value;
}

/** A primitive OTLP value, or undefined for anything this endpoint does not keep. */
function primitive(value: unknown): AnyValue | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.stringValue === 'string') {
    return v.stringValue.length <= MAX_STRING_VALUE_LENGTH
      ? { stringValue: v.stringValue }
      : undefined;
  }
  if (typeof v.boolValue === 'boolean') return { boolValue: v.boolValue };
  if (typeof v.intValue === 'number' && Number.isSafeInteger(v.intValue)) {
    return { intValue: v.intValue };
  }
  if (typeof v.intValue === 'string' && /^-?\d{1,19}$/.test(v.intValue)) {
    return { intValue: v.intValue };
  }
  if (typeof v.doubleValue === 'number' && Number.isFinite(v.doubleValue)) {
    return { doubleValue: v.doubleValue };
  }
  return undefined;
}

/** Whether a browser span (or span event) may carry an attribute of this key. */
export function spanAttributeAllowed(key: string): boolean {
  if (ALLOWED_SPAN_KEYS.has(key)) return true;
  return ALLOWED_SPAN_PREFIXES.some((p) => key.startsWith(p)) && !CONTENT_WORDS.test(key);
}

function resourceAttributeAllowed(key: string): boolean {
  return ALLOWED_RESOURCE_KEYS.has(key) || ALLOWED_RESOURCE_PREFIXES.some((p) => key.startsWith(p));
}

/** The attributes whose key is allowed and whose value is a short primitive; the rest dropped. */
function attributes(value: unknown, what: string, allowed: (key: string) => boolean): KeyValue[] {
  const kept: KeyValue[] = [];
  const seen = new Set<string>();
  for (const entry of asArray(value, what)) {
    const { key, value: raw } = asObject(entry, `each of ${what}`);
    if (typeof key !== 'string') throw invalid(`each of ${what} must have a string "key"`);
    const v = primitive(raw);
    if (v === undefined || seen.has(key) || !allowed(key)) continue;
    seen.add(key);
    kept.push({ key, value: v });
  }
  return kept;
}

function span(value: unknown): OtlpSpan {
  const s = asObject(value, 'a span');
  const traceId = hexId(s.traceId, TRACE_ID, ZERO_TRACE_ID, 'traceId');
  const spanId = hexId(s.spanId, SPAN_ID, ZERO_SPAN_ID, 'spanId');
  const parentSpanId =
    s.parentSpanId === undefined || s.parentSpanId === ''
      ? undefined
      : hexId(s.parentSpanId, SPAN_ID, ZERO_SPAN_ID, 'parentSpanId');
  const kind = s.kind ?? 0;
  if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 5) {
    throw invalid('kind must be an OTLP span kind (0-5)');
  }
  const startTimeUnixNano = unixNanos(s.startTimeUnixNano, 'startTimeUnixNano');
  const endTimeUnixNano = unixNanos(s.endTimeUnixNano, 'endTimeUnixNano');
  if (BigInt(endTimeUnixNano) < BigInt(startTimeUnixNano)) {
    throw invalid('a span must not end before it starts');
  }
  const events = asArray(s.events, 'events')
    .slice(0, MAX_EVENTS_PER_SPAN)
    .map((e) => {
      const event = asObject(e, 'an event');
      return {
        timeUnixNano: unixNanos(event.timeUnixNano, 'an event time'),
        name: name(event.name, 'an event name'),
        attributes: attributes(event.attributes, 'event attributes', spanAttributeAllowed),
      };
    });
  const links = asArray(s.links, 'links')
    .slice(0, MAX_LINKS_PER_SPAN)
    .map((l) => {
      const link = asObject(l, 'a link');
      return {
        traceId: hexId(link.traceId, TRACE_ID, ZERO_TRACE_ID, 'a link traceId'),
        spanId: hexId(link.spanId, SPAN_ID, ZERO_SPAN_ID, 'a link spanId'),
      };
    });
  const statusCode = s.status === undefined ? 0 : (asObject(s.status, 'status').code ?? 0);
  if (statusCode !== 0 && statusCode !== 1 && statusCode !== 2) {
    throw invalid('status.code must be 0, 1 or 2');
  }
  return {
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name: name(s.name, 'a span name'),
    kind,
    startTimeUnixNano,
    endTimeUnixNano,
    attributes: attributes(s.attributes, 'span attributes', spanAttributeAllowed),
    events,
    links,
    // the status message is free text: only the code is kept
    status: { code: statusCode },
  };
}

/**
 * Checks an OTLP JSON body and rebuilds it for the collector: every resource becomes
 * `service.name` = `web` plus `enduser.id` = `userId` (and the SDK's own `telemetry.sdk.*`),
 * span attributes are cut to the allowed keys with short primitive values, status messages
 * dropped. Throws HttpError 400 for a body that is not OTLP JSON or holds no span, 413 for
 * more than MAX_SPANS_PER_REQUEST spans.
 */
export function sanitizeBrowserSpans(body: unknown, userId: string): SanitizedSpans {
  const root = asObject(body, 'the body');
  let count = 0;
  const resourceSpans = asArray(root.resourceSpans, 'resourceSpans').map((rs) => {
    const entry = asObject(rs, 'each of resourceSpans');
    const resource = entry.resource === undefined ? {} : asObject(entry.resource, 'resource');
    const kept = attributes(resource.attributes, 'resource attributes', resourceAttributeAllowed);
    const scopeSpans = asArray(entry.scopeSpans, 'scopeSpans').map((ss) => {
      const scoped = asObject(ss, 'each of scopeSpans');
      const scope = scoped.scope === undefined ? {} : asObject(scoped.scope, 'scope');
      const rawSpans = asArray(scoped.spans, 'spans');
      count += rawSpans.length;
      if (count > MAX_SPANS_PER_REQUEST) throw new TooManySpans(count);
      return {
        scope: {
          name: typeof scope.name === 'string' && NAME.test(scope.name) ? scope.name : 'web',
          ...(typeof scope.version === 'string' && scope.version.length <= 64
            ? { version: scope.version }
            : {}),
        },
        spans: rawSpans.map(span),
      };
    });
    return {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: WEB_SERVICE_NAME } },
          { key: Attr.ENDUSER_ID, value: { stringValue: userId } },
          ...kept,
        ],
      },
      scopeSpans,
    };
  });
  if (count === 0) throw invalid('the body holds no span');
  return { payload: { resourceSpans }, spans: count };
}

/**
 * Posts rebuilt spans to the collector's OTLP/HTTP traces endpoint as JSON. Throws HttpError 503
 * when the collector cannot be reached, times out or fails (5xx, 429), 400 when it refuses them.
 */
export async function forwardSpans(
  url: string,
  payload: OtlpTraces,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = FORWARD_TIMEOUT_MS,
): Promise<void> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new HttpError(
      503,
      HttpErrorCode.UNAVAILABLE,
      'the trace collector is unreachable',
      {},
      {
        cause: err,
      },
    );
  }
  // the body is not needed; reading it frees the connection
  await response.arrayBuffer().catch(() => undefined);
  if (response.ok) return;
  if (response.status >= 500 || response.status === 429) {
    throw new HttpError(
      503,
      HttpErrorCode.UNAVAILABLE,
      `the trace collector answered ${response.status}`,
      { 'retry-after': '5' },
    );
  }
  throw invalid(`the trace collector refused the spans (${response.status})`);
}
