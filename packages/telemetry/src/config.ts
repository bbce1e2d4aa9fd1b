import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EnvReader, sharedEnv } from '@tracechat/config';
import type { Env, LogLevel } from '@tracechat/config';
import { SamplingEvent } from '@tracechat/contracts';

/** OTLP encodings over HTTP (OTEL_EXPORTER_OTLP_PROTOCOL); gRPC is not offered. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** Where finished spans go (OTEL_TRACES_EXPORTER, a comma list): OTLP, the service's log, nowhere. */
export const TRACES_EXPORTERS = ['otlp', 'console', 'none'] as const;
export type TracesExporter = (typeof TRACES_EXPORTERS)[number];

export interface TelemetryConfig {
  /** false when ENABLE_TELEMETRY=false or OTEL_SDK_DISABLED=true: nothing is started or exported. */
  readonly enabled: boolean;
  readonly serviceName: string;
  readonly serviceVersion: string;
  readonly serviceInstanceId: string;
  readonly environment: string;
  /** Base OTLP/HTTP endpoint; traces go to `${endpoint}/v1/traces` unless the traces endpoint is set. */
  readonly otlpEndpoint: string;
  readonly otlpTracesEndpoint: string;
  readonly otlpMetricsEndpoint: string;
  /** OTEL_EXPORTER_OTLP_{TRACES_,}PROTOCOL; http/protobuf, a third of JSON's CPU and bytes. */
  readonly otlpTracesProtocol: OtlpProtocol;
  /** OTEL_EXPORTER_OTLP_{METRICS_,}PROTOCOL, http/protobuf unless set. */
  readonly otlpMetricsProtocol: OtlpProtocol;
  readonly spanExport: SpanExportConfig;
  /**
   * OTEL_TRACES_EXPORTER: `otlp` (default), `console` (one log line per span), both as
   * `otlp,console`, or `none` alone (an empty list here).
   */
  readonly tracesExporters: readonly Exclude<TracesExporter, 'none'>[];
  readonly metricsExportIntervalMs: number;
  /** OTEL_METRICS_EXPORTER: 'otlp' (default) or 'none'. */
  readonly metricsExporter: 'otlp' | 'none';
  readonly logLevel: LogLevel;
  readonly sampling: SamplingConfig;
}

/**
 * The batch span processor (OTEL_BSP_*), sized for a service emitting up to ~20k spans/s: see
 * DEFAULT_SPAN_EXPORT for why each default is what it is.
 */
export interface SpanExportConfig {
  /** Spans held waiting for export; a span ending while it is full is dropped (and counted). */
  readonly maxQueueSize: number;
  /** Spans per OTLP request; a full batch goes out at once, without waiting for the delay. */
  readonly maxExportBatchSize: number;
  /** How long a part-filled batch waits before it goes out (the stack runner sets it). */
  readonly scheduledDelayMillis: number;
  /** How long one export may take before the processor gives up on it and sends the next. */
  readonly exportTimeoutMillis: number;
}

/**
 * Sized for ~20k spans/s. A 2048-span batch fills in ~100 ms at that rate, so under load batches
 * leave full and at once: one OTLP request (~600 KB of protobuf, a few ms to encode) per 2048
 * spans, where the request's own cost no longer shows (in the span benchmark 512-span batches
 * cost ~2 µs more CPU per span). The processor keeps one export in flight; the queue holds 8
 * batches, ~0.8 s of spans at 20k/s and seconds at one service's share, so a collector that
 * stalls that long loses nothing; past that, spans are dropped and counted rather than held
 * without bound (a queued span with 6 attributes is ~1 KB of heap: 16384 are ~17 MB). The delay
 * only matters to a quiet service: it bounds how late its spans arrive.
 */
export const DEFAULT_SPAN_EXPORT: SpanExportConfig = {
  maxQueueSize: 16_384,
  maxExportBatchSize: 2048,
  scheduledDelayMillis: 1000,
  exportTimeoutMillis: 30_000,
};

export interface SamplingConfig {
  /** Adopt the sampled flag of an incoming traceparent (EMQX's follow_traceparent). */
  readonly followTraceparent: boolean;
  /** Share of the remaining root traces to keep, 0..1. */
  readonly ratio: number;
  readonly whitelistUsers: readonly string[];
  readonly whitelistSessions: readonly string[];
  readonly events: Readonly<Record<SamplingEvent, boolean>>;
}

export const SAMPLING_EVENTS = Object.values(SamplingEvent);

export const DEFAULT_OTLP_ENDPOINT = 'http://127.0.0.1:4318';

function ownPackage(): { name: string; version: string } {
  // The service's own package.json names it when SERVICE_NAME is not given.
  let dir = process.argv[1] ? dirname(process.argv[1]) : process.cwd();
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name) {
        return { name: pkg.name.replace(/^@[^/]+\//, ''), version: pkg.version ?? '0.0.0' };
      }
    } catch {
      // not here; look one level up
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return { name: 'unknown_service:node', version: '0.0.0' };
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** OTEL_BSP_*, with tracechat's defaults; a batch larger than the queue is refused. */
function readSpanExport(r: EnvReader): SpanExportConfig {
  const d = DEFAULT_SPAN_EXPORT;
  const maxQueueSize = r.int('OTEL_BSP_MAX_QUEUE_SIZE', d.maxQueueSize, { min: 1 });
  const maxExportBatchSize = r.int(
    'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    Math.min(d.maxExportBatchSize, maxQueueSize),
    { min: 1 },
  );
  if (maxExportBatchSize > maxQueueSize) {
    r.problem('OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE');
  }
  return {
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis: r.int('OTEL_BSP_SCHEDULE_DELAY', d.scheduledDelayMillis, { min: 0 }),
    exportTimeoutMillis: r.int('OTEL_BSP_EXPORT_TIMEOUT', d.exportTimeoutMillis, { min: 1 }),
  };
}

/** OTEL_TRACES_EXPORTER as a list without repeats; `none` must stand alone. */
function readTracesExporters(r: EnvReader): readonly Exclude<TracesExporter, 'none'>[] {
  const names = [...new Set(r.list('OTEL_TRACES_EXPORTER', ['otlp']).map((n) => n.toLowerCase()))];
  const unknown = names.filter((n) => !(TRACES_EXPORTERS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    r.problem(
      `OTEL_TRACES_EXPORTER: unknown exporter ${unknown.map((n) => `"${n}"`).join(', ')}; ` +
        `expected a comma list of ${TRACES_EXPORTERS.join(', ')}`,
    );
    return ['otlp'];
  }
  if (names.includes('none')) {
    if (names.length > 1) r.problem('OTEL_TRACES_EXPORTER: none cannot be combined with others');
    return [];
  }
  return names.length === 0 ? ['otlp'] : (names as Exclude<TracesExporter, 'none'>[]);
}

/**
 * Reads the standard OTEL_* variables plus SERVICE_NAME, ENVIRONMENT and ENABLE_TELEMETRY.
 * OTEL_SERVICE_NAME wins over SERVICE_NAME; an empty variable counts as unset.
 */
export function loadTelemetryConfig(env: Env): TelemetryConfig {
  const r = new EnvReader('telemetry', env);
  const shared = sharedEnv(r);
  const own = ownPackage();
  const enabled = r.bool('ENABLE_TELEMETRY', true) && !r.bool('OTEL_SDK_DISABLED', false);
  const serviceName = r.optionalString('OTEL_SERVICE_NAME') ?? r.string('SERVICE_NAME', own.name);
  const endpoint = stripSlash(
    r.url('OTEL_EXPORTER_OTLP_ENDPOINT', DEFAULT_OTLP_ENDPOINT, ['http:', 'https:']),
  );
  const tracesEndpoint = r.url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', `${endpoint}/v1/traces`, [
    'http:',
    'https:',
  ]);
  const metricsEndpoint = r.url('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', `${endpoint}/v1/metrics`, [
    'http:',
    'https:',
  ]);
  const protocol = r.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/protobuf', OTLP_PROTOCOLS);
  const spanExport = readSpanExport(r);
  const ratio = r.number('TRACECHAT_SAMPLING_RATIO', 1, { min: 0, max: 1 });
  const events = Object.fromEntries(
    SAMPLING_EVENTS.map((event) => [
      event,
      r.bool(`TRACECHAT_SAMPLE_${event.toUpperCase()}`, true),
    ]),
  ) as Record<SamplingEvent, boolean>;
  return r.done({
    enabled,
    serviceName,
    serviceVersion: r.string('SERVICE_VERSION', own.version),
    serviceInstanceId: r.string('SERVICE_INSTANCE_ID', `${serviceName}-${process.pid}`),
    environment: r.string('ENVIRONMENT', 'development'),
    otlpEndpoint: endpoint,
    otlpTracesEndpoint: tracesEndpoint,
    otlpMetricsEndpoint: metricsEndpoint,
    otlpTracesProtocol: r.oneOf('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', protocol, OTLP_PROTOCOLS),
    otlpMetricsProtocol: r.oneOf('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', protocol, OTLP_PROTOCOLS),
    spanExport,
    tracesExporters: readTracesExporters(r),
    metricsExporter: r.oneOf('OTEL_METRICS_EXPORTER', 'otlp', ['otlp', 'none'] as const),
    metricsExportIntervalMs: r.int('OTEL_METRIC_EXPORT_INTERVAL', 10_000, { min: 100 }),
    logLevel: shared.logLevel(),
    sampling: {
      followTraceparent: shared.followTraceparent(),
      ratio,
      whitelistUsers: r.list('TRACECHAT_SAMPLING_WHITELIST_USERS', []),
      whitelistSessions: r.list('TRACECHAT_SAMPLING_WHITELIST_SESSIONS', []),
      events,
    },
  });
}
