// Spans exported and lost, as the running stack counts them: each service's
// tracechat.telemetry.spans.{exported,dropped} (packages/telemetry's counting batch processor,
// exported over OTLP and served by the collector's Prometheus exporter, one series per
// service instance), the collector's own counters (receiver accepted/refused/failed, exporter
// sent/failed, tail sampling) and Jaeger's (the same receiver and storage exporter counters).
import { MetricName } from '@tracechat/contracts';

export interface PromSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses Prometheus / OpenMetrics text exposition (comments skipped). */
export function parsePrometheus(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const labelText = m[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let l = re.exec(labelText); l; l = re.exec(labelText))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return samples;
}

/** The Prometheus name of a counter recorded through OpenTelemetry (`a.b.c` → `a_b_c_total`). */
export function promCounter(name: string): string {
  return `${name.replace(/\./g, '_')}_total`;
}

async function scrape(url: string): Promise<PromSample[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return parsePrometheus(await res.text());
}

const sum = (samples: readonly PromSample[], name: string, where?: Record<string, string>) => {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(where ?? {}).every(([k, v]) => s.labels[k] === v),
  );
  return matching.length === 0 ? null : matching.reduce((a, s) => a + s.value, 0);
};

export interface ServiceSpans {
  /** service.instance.id (the Prometheus `instance` label). */
  readonly instance: string;
  readonly service: string;
  readonly exported: number;
  readonly droppedQueueFull: number;
  readonly droppedExportFailed: number;
}

export interface SpanReport {
  /** Per service instance; null when unreadable (the reason in `notes`). */
  readonly services: ServiceSpans[] | null;
  readonly collector: Record<string, number | null> | null;
  readonly jaeger: Record<string, number | null> | null;
  /** Every span counted lost anywhere (services, collector, Jaeger); null when nothing was readable. */
  readonly lost: number | null;
  readonly notes: string[];
}

/** Reads the services' span counters from the collector's Prometheus endpoint. */
export async function serviceSpans(metricsUrl: string): Promise<ServiceSpans[]> {
  const samples = await scrape(metricsUrl);
  const exported = promCounter(MetricName.TELEMETRY_SPANS_EXPORTED);
  const dropped = promCounter(MetricName.TELEMETRY_SPANS_DROPPED);
  const instances = new Map<string, string>();
  for (const s of samples)
    if ((s.name === exported || s.name === dropped) && s.labels.instance)
      instances.set(s.labels.instance, s.labels.job ?? '?');
  return [...instances]
    .map(([instance, service]) => ({
      instance,
      service,
      exported: sum(samples, exported, { instance }) ?? 0,
      droppedQueueFull: sum(samples, dropped, { instance, error_type: 'queue_full' }) ?? 0,
      droppedExportFailed: sum(samples, dropped, { instance, error_type: 'export_failed' }) ?? 0,
    }))
    .sort((a, b) => a.instance.localeCompare(b.instance));
}

/** The OpenTelemetry Collector's own span counters (the collector tier, and Jaeger v2 itself). */
export async function collectorSpans(url: string): Promise<Record<string, number | null>> {
  const samples = await scrape(url);
  return {
    receiver_accepted: sum(samples, 'otelcol_receiver_accepted_spans_total'),
    receiver_refused: sum(samples, 'otelcol_receiver_refused_spans_total'),
    receiver_failed: sum(samples, 'otelcol_receiver_failed_spans_total'),
    exporter_sent: sum(samples, 'otelcol_exporter_sent_spans_total'),
    exporter_send_failed: sum(samples, 'otelcol_exporter_send_failed_spans_total'),
    exporter_enqueue_failed: sum(samples, 'otelcol_exporter_enqueue_failed_spans_total'),
    tail_dropped_too_early: sum(
      samples,
      'otelcol_processor_tail_sampling_sampling_trace_dropped_too_early_total',
    ),
    tail_traces_in_memory: sum(
      samples,
      'otelcol_processor_tail_sampling_sampling_traces_on_memory',
    ),
  };
}

const LOSS_COUNTERS = [
  'receiver_refused',
  'receiver_failed',
  'exporter_send_failed',
  'exporter_enqueue_failed',
] as const;

export async function readSpans(urls: {
  /** The collector's Prometheus exporter (service metrics); undefined without the collector. */
  readonly metricsUrl: string | undefined;
  readonly collectorSelfUrl: string | undefined;
  readonly jaegerSelfUrl: string;
}): Promise<SpanReport> {
  const notes: string[] = [];
  let services: ServiceSpans[] | null = null;
  let collector: Record<string, number | null> | null = null;
  let jaeger: Record<string, number | null> | null = null;
  if (urls.metricsUrl) {
    try {
      services = await serviceSpans(urls.metricsUrl);
      if (services.length === 0) {
        services = null;
        notes.push(`no span counters at ${urls.metricsUrl} (no metrics exported yet)`);
      }
    } catch (err) {
      notes.push(`service span counters unreadable: ${(err as Error).message}`);
    }
  } else {
    notes.push(
      'service span counters n/a: without the collector tier the services export no metrics',
    );
  }
  if (urls.collectorSelfUrl) {
    try {
      collector = await collectorSpans(urls.collectorSelfUrl);
    } catch (err) {
      notes.push(`collector counters unreadable: ${(err as Error).message}`);
    }
  }
  try {
    jaeger = await collectorSpans(urls.jaegerSelfUrl);
  } catch (err) {
    notes.push(`Jaeger counters unreadable: ${(err as Error).message}`);
  }
  const parts: number[] = [];
  for (const s of services ?? []) parts.push(s.droppedQueueFull + s.droppedExportFailed);
  for (const c of [collector, jaeger])
    for (const key of LOSS_COUNTERS) if (c?.[key] != null) parts.push(c[key]);
  if (collector?.tail_dropped_too_early != null) parts.push(collector.tail_dropped_too_early);
  return {
    services,
    collector,
    jaeger,
    lost: parts.length === 0 ? null : parts.reduce((a, b) => a + b, 0),
    notes,
  };
}
