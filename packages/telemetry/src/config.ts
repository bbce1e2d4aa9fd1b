import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EnvReader, sharedEnv } from '@tracechat/config';
import type { Env, LogLevel } from '@tracechat/config';
import { SamplingEvent } from '@tracechat/contracts';

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
  readonly metricsExportIntervalMs: number;
  /** OTEL_METRICS_EXPORTER: 'otlp' (default) or 'none'. */
  readonly metricsExporter: 'otlp' | 'none';
  readonly logLevel: LogLevel;
  readonly sampling: SamplingConfig;
}

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
