// Where a message's time goes: measured messages' traces fetched from Jaeger, cut into the hops
// of the critical path from the sender's frame to the push on the receiver's connection
// (docs/tracing.md, "The trace of one message"). Each hop runs from one span edge to the next, so
// a trace's hops add up to its total; a hop whose span is missing is left out.
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchTrace } from '@tracechat/client';
import type { JaegerSpan, JaegerTrace } from '@tracechat/client';
import { SpanName } from '@tracechat/contracts';
import { mapLimit, median, round } from './stats';

/** A span edge: the start or end of the first span of that name in the trace. */
interface Edge {
  readonly span: SpanName;
  readonly at: 'start' | 'end';
}

export interface HopDefinition {
  readonly name: string;
  readonly from: Edge;
  readonly to: Edge;
}

const start = (span: SpanName): Edge => ({ span, at: 'start' });
const end = (span: SpanName): Edge => ({ span, at: 'end' });

export const HOPS: readonly HopDefinition[] = [
  {
    name: 'gateway in (on_message → grpc send)',
    from: start(SpanName.GATEWAY_WS_ON_MESSAGE),
    to: start(SpanName.GATEWAY_GRPC_SEND_MESSAGE),
  },
  {
    name: 'logic (grpc send → journal append)',
    from: start(SpanName.GATEWAY_GRPC_SEND_MESSAGE),
    to: start(SpanName.LOGIC_JOURNAL_APPEND),
  },
  {
    name: 'journal append (→ durable)',
    from: start(SpanName.LOGIC_JOURNAL_APPEND),
    to: end(SpanName.JOURNAL_APPEND_MESSAGE),
  },
  {
    name: 'projection (append end → mq.publish)',
    from: end(SpanName.JOURNAL_APPEND_MESSAGE),
    to: start(SpanName.JOURNAL_MQ_PUBLISH),
  },
  {
    name: 'NATS (publish → consume)',
    from: start(SpanName.JOURNAL_MQ_PUBLISH),
    to: start(SpanName.TASK_MQ_CONSUME),
  },
  {
    name: 'task (consume → push.deliver)',
    from: start(SpanName.TASK_MQ_CONSUME),
    to: start(SpanName.GATEWAY_PUSH_DELIVER),
  },
  {
    name: 'push (push.deliver → ws.push end)',
    from: start(SpanName.GATEWAY_PUSH_DELIVER),
    to: end(SpanName.GATEWAY_WS_PUSH),
  },
];

export const TOTAL_HOP: HopDefinition = {
  name: 'total (on_message → ws.push end)',
  from: start(SpanName.GATEWAY_WS_ON_MESSAGE),
  to: end(SpanName.GATEWAY_WS_PUSH),
};

/** The ack as the gateway sees it: the whole `gateway.ws.on_message` span. */
export const ACK_HOP: HopDefinition = {
  name: 'ack in the gateway (on_message)',
  from: start(SpanName.GATEWAY_WS_ON_MESSAGE),
  to: end(SpanName.GATEWAY_WS_ON_MESSAGE),
};

/** The way back to the sender: from the record being durable to the ack written. */
export const ACK_RETURN_HOP: HopDefinition = {
  name: 'ack return (durable → on_message end)',
  from: end(SpanName.JOURNAL_APPEND_MESSAGE),
  to: end(SpanName.GATEWAY_WS_ON_MESSAGE),
};

/**
 * The spans of that name, or when none (the span's operation moved to another service, which
 * changes only its prefix: docs/tracing.md) those whose name ends with the same operation.
 */
function spansNamed(trace: JaegerTrace, name: SpanName): JaegerSpan[] {
  const exact = trace.spans.filter((s) => s.operationName === name);
  if (exact.length > 0) return exact;
  const operation = name.slice(name.indexOf('.'));
  const moved = trace.spans.filter((s) => s.operationName.endsWith(operation));
  if (moved.length > 0) return moved;
  const standIn = STAND_INS[name];
  return standIn ? trace.spans.filter((s) => s.operationName === standIn) : [];
}

/**
 * Spans that play another's part when a message came in over MQTT (`tracechat bench --mqtt`): the
 * PUBLISH span, which ends with the PUBACK, is the sender's frame span.
 */
const STAND_INS: Partial<Record<SpanName, SpanName>> = {
  [SpanName.GATEWAY_WS_ON_MESSAGE]: SpanName.GATEWAY_MQTT_PUBLISH,
};

/**
 * The critical path: the first `gateway.ws.push` span and its ancestors. Every hop's spans are on
 * it; a span name that occurs more than once (task pushes to each gateway, the sender's gateway
 * too) is taken from the path, else the earliest.
 */
function criticalPath(trace: JaegerTrace): Set<string> {
  const path = new Set<string>();
  const pushes = spansNamed(trace, SpanName.GATEWAY_WS_PUSH);
  if (pushes.length === 0) return path;
  const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
  let span: JaegerSpan | undefined = pushes.reduce((a, b) => (b.startTime < a.startTime ? b : a));
  while (span && !path.has(span.spanID)) {
    path.add(span.spanID);
    const parent: { spanID: string } | undefined = span.references.find(
      (r) => r.refType === 'CHILD_OF',
    );
    span = parent ? byId.get(parent.spanID) : undefined;
  }
  return path;
}

/** The edge's time in µs; undefined when its span is missing. */
function edgeTime(trace: JaegerTrace, path: Set<string>, edge: Edge): number | undefined {
  const spans = spansNamed(trace, edge.span);
  if (spans.length === 0) return undefined;
  const onPath = spans.filter((s) => path.has(s.spanID));
  const first = (onPath.length > 0 ? onPath : spans).reduce((a, b) =>
    b.startTime < a.startTime ? b : a,
  );
  return edge.at === 'start' ? first.startTime : first.startTime + first.duration;
}

/** A hop's duration in ms, or undefined when one of its spans is missing. */
export function hopMs(
  trace: JaegerTrace,
  hop: HopDefinition,
  path: Set<string> = criticalPath(trace),
): number | undefined {
  const from = edgeTime(trace, path, hop.from);
  const to = edgeTime(trace, path, hop.to);
  return from === undefined || to === undefined ? undefined : (to - from) / 1000;
}

export interface HopBreakdown {
  /** Traces asked for, found in Jaeger, and found reaching the push. */
  readonly requested: number;
  readonly found: number;
  readonly complete: number;
  /** Median ms per hop over the traces that have both of its spans (null: none has). */
  readonly hops: {
    readonly name: string;
    readonly medianMs: number | null;
    readonly traces: number;
  }[];
}

/** Picks up to `n` ids spread evenly over the list. */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (n <= 0) return [];
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}

/**
 * Fetches the traces and takes the median of every hop. Traces of delivered messages are fetched
 * again until they hold their `gateway.ws.push` span (spans arrive from each service at its own
 * pace) or `deadline`; those of undelivered ones once, to show how far they got.
 */
export async function hopBreakdown(
  jaegerUrl: string,
  traceIds: { readonly delivered: readonly string[]; readonly undelivered: readonly string[] },
  deadline: number,
): Promise<HopBreakdown> {
  const complete = (t: JaegerTrace | undefined): t is JaegerTrace =>
    t !== undefined && spansNamed(t, SpanName.GATEWAY_WS_PUSH).length > 0;
  const delivered = await mapLimit(traceIds.delivered, 4, async (id) => {
    for (;;) {
      const trace = await fetchTrace(jaegerUrl, id).catch(() => undefined);
      if (complete(trace) || Date.now() > deadline) return trace;
      await sleep(500);
    }
  });
  const undelivered = await mapLimit(traceIds.undelivered, 4, (id) =>
    fetchTrace(jaegerUrl, id).catch(() => undefined),
  );
  const found = [...delivered, ...undelivered].filter((t): t is JaegerTrace => t !== undefined);
  const paths = new Map(found.map((t) => [t, criticalPath(t)]));
  const hops = [ACK_HOP, ACK_RETURN_HOP, ...HOPS, TOTAL_HOP].map((hop) => {
    const values = found.flatMap((t) => {
      const ms = hopMs(t, hop, paths.get(t));
      return ms === undefined ? [] : [ms];
    });
    return { name: hop.name, medianMs: round(median(values), 2), traces: values.length };
  });
  return {
    requested: traceIds.delivered.length + traceIds.undelivered.length,
    found: found.length,
    complete: found.filter(complete).length,
    hops,
  };
}
