/** Span as Jaeger's /api/traces/{id} returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; type: string; value: unknown }[];
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

/** A trace's spans with their service and parent, for shape assertions. */
export interface TraceView {
  readonly trace: JaegerTrace;
  readonly spans: JaegerSpan[];
  service(span: JaegerSpan): string;
  instance(span: JaegerSpan): string | undefined;
  tag(span: JaegerSpan, key: string): unknown;
  parent(span: JaegerSpan): JaegerSpan | undefined;
  byName(name: string): JaegerSpan[];
  one(name: string): JaegerSpan;
  /** True when `ancestor` is on the parent chain of `span`. */
  isUnder(span: JaegerSpan, ancestor: JaegerSpan): boolean;
}

export function viewTrace(trace: JaegerTrace): TraceView {
  const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
  const view: TraceView = {
    trace,
    spans: trace.spans,
    service: (span) => trace.processes[span.processID]?.serviceName ?? '?',
    instance: (span) =>
      trace.processes[span.processID]?.tags.find((t) => t.key === 'service.instance.id')?.value as
        string | undefined,
    tag: (span, key) => span.tags.find((t) => t.key === key)?.value,
    parent: (span) => {
      const ref = span.references.find((r) => r.refType === 'CHILD_OF');
      return ref ? byId.get(ref.spanID) : undefined;
    },
    byName: (name) => trace.spans.filter((s) => s.operationName === name),
    one: (name) => {
      const found = trace.spans.filter((s) => s.operationName === name);
      if (found.length !== 1) {
        throw new Error(
          `expected one ${name} span, found ${found.length}; spans: ${trace.spans.map((s) => s.operationName).join(', ')}`,
        );
      }
      return found[0]!;
    },
    isUnder: (span, ancestor) => {
      let current = view.parent(span);
      while (current) {
        if (current.spanID === ancestor.spanID) return true;
        current = view.parent(current);
      }
      return false;
    },
  };
  return view;
}

/** Fetches one trace; undefined while Jaeger does not have it. */
export async function fetchTrace(
  jaegerUrl: string,
  traceId: string,
): Promise<JaegerTrace | undefined> {
  const res = await fetch(`${jaegerUrl}/api/traces/${traceId}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`jaeger answered ${res.status} for trace ${traceId}`);
  const body = (await res.json()) as { data: JaegerTrace[] };
  return body.data?.[0];
}

/**
 * Polls Jaeger until the trace satisfies `ready` (e.g. holds every expected span), since spans
 * of one trace arrive from several services at different times.
 */
export async function waitForTrace(
  jaegerUrl: string,
  traceId: string,
  ready: (trace: JaegerTrace) => boolean,
  timeoutMs = 20_000,
): Promise<JaegerTrace> {
  const deadline = Date.now() + timeoutMs;
  let last: JaegerTrace | undefined;
  for (;;) {
    last = await fetchTrace(jaegerUrl, traceId);
    if (last && ready(last)) return last;
    if (Date.now() > deadline) {
      const names = last
        ? last.spans
            .map((s) => s.operationName)
            .sort()
            .join(', ')
        : 'none';
      throw new Error(`trace ${traceId} not complete after ${timeoutMs} ms; spans: ${names}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Trace ids found by a search (service, operation, tags as JSON), newest first. */
export async function searchTraces(
  jaegerUrl: string,
  query: {
    service: string;
    operation?: string;
    tags?: Record<string, string>;
    lookbackMs?: number;
    limit?: number;
  },
): Promise<JaegerTrace[]> {
  const end = Date.now() * 1000;
  const start = end - (query.lookbackMs ?? 3_600_000) * 1000;
  const params = new URLSearchParams({
    service: query.service,
    start: String(start),
    end: String(end),
    limit: String(query.limit ?? 1000),
  });
  if (query.operation) params.set('operation', query.operation);
  if (query.tags) params.set('tags', JSON.stringify(query.tags));
  const res = await fetch(`${jaegerUrl}/api/traces?${params}`);
  if (!res.ok) throw new Error(`jaeger search answered ${res.status}`);
  return ((await res.json()) as { data: JaegerTrace[] }).data ?? [];
}
