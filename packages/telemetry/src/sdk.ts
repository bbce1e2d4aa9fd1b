import { diag, DiagLogLevel } from '@opentelemetry/api';
import type { DiagLogger } from '@opentelemetry/api';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { TelemetryConfig } from './config';
import { ChatSampler } from './sampler';
import type { Whitelist } from './sampler';
import { countingBatchSpanProcessor, initSpanCounters } from './span-processor';

/** The batched gRPC methods (batch.proto); the grpc instrumentation leaves them alone. */
const BATCH_METHODS = ['SendMessages', 'AppendMessages', 'DeliverBatch'];

interface Running {
  sdk: NodeSDK;
  sampler: ChatSampler;
  config: TelemetryConfig;
}

// One SDK per process, reachable from every copy of this module.
const KEY = Symbol.for('tracechat.telemetry');
type Holder = { [KEY]?: Running };
const holder = globalThis as Holder;

/** diag messages go to stderr at warn level: export failures must be visible, not noisy. */
const stderrDiag: DiagLogger = {
  error: (...args) => console.error('otel:', ...args),
  warn: (...args) => console.error('otel:', ...args),
  info: () => undefined,
  debug: () => undefined,
  verbose: () => undefined,
};

/**
 * Starts OpenTelemetry for this process: OTLP/HTTP traces through a batch processor, OTLP
 * metrics, the head sampler, W3C propagation and the auto-instrumentations tracechat wants
 * (fs, dns and net off: noise, and stray one-span traces). Idempotent; a no-op when disabled.
 */
export function startTelemetry(config: TelemetryConfig): void {
  if (holder[KEY] || !config.enabled) return;
  diag.setLogger(stderrDiag, DiagLogLevel.WARN);
  const sampler = new ChatSampler(config.sampling);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': config.serviceName,
      'service.version': config.serviceVersion,
      'service.instance.id': config.serviceInstanceId,
      'deployment.environment.name': config.environment,
    }),
    sampler,
    spanProcessors: [
      countingBatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpTracesEndpoint })),
    ],
    metricReader:
      config.metricsExporter === 'none'
        ? undefined
        : new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter({ url: config.otlpMetricsEndpoint }),
            exportIntervalMillis: config.metricsExportIntervalMs,
            exportTimeoutMillis: Math.min(config.metricsExportIntervalMs, 30_000),
          }),
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    instrumentations: [
      getNodeAutoInstrumentations({
        '@opentelemetry/instrumentation-fs': { enabled: false },
        '@opentelemetry/instrumentation-dns': { enabled: false },
        '@opentelemetry/instrumentation-net': { enabled: false },
        '@opentelemetry/instrumentation-pino': { enabled: false },
        '@opentelemetry/instrumentation-pg': {
          requireParentSpan: true,
          enhancedDatabaseReporting: false,
        },
        '@opentelemetry/instrumentation-ioredis': { requireParentSpan: true },
        // A batch RPC belongs to no single message: each of its calls carries its own trace
        // context and is traced on its own (see docs/tracing.md).
        '@opentelemetry/instrumentation-grpc': { ignoreGrpcMethods: BATCH_METHODS },
        '@opentelemetry/instrumentation-http': {
          ignoreIncomingRequestHook: (req) => /^\/(healthz|readyz|metrics)/.test(req.url ?? ''),
        },
      }),
      new FastifyOtelInstrumentation({ registerOnInitialization: true }),
    ],
  });
  sdk.start();
  holder[KEY] = { sdk, sampler, config };
  initSpanCounters();
}

/** Flushes and stops telemetry; safe to call when it never started. */
export async function shutdownTelemetry(): Promise<void> {
  const running = holder[KEY];
  if (!running) return;
  holder[KEY] = undefined;
  try {
    await running.sdk.shutdown();
  } catch (err) {
    stderrDiag.error('shutdown failed', err);
  }
}

/** Replaces the runtime sampling whitelist of this process. */
export function setSamplingWhitelist(list: Whitelist): void {
  holder[KEY]?.sampler.setWhitelist(list);
}
