import { createNoopMeter, diag, DiagLogLevel } from '@opentelemetry/api';
import type { DiagLogger, MeterProvider } from '@opentelemetry/api';
import { hostname } from 'node:os';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { TelemetryConfig } from './config';
import { LogSpanExporter } from './console-exporter';
import { isIgnoredIncomingRequest, untracedRoute } from './ignored-requests';
import { createLogger } from './logger';
import { ChatSampler } from './sampler';
import type { Whitelist } from './sampler';
import { SpanClockProcessor } from './span-clock';
import { countingBatchSpanProcessor, exportConcurrency, initSpanCounters } from './span-processor';

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

/** OTLP/HTTP span exporter in the configured encoding (protobuf unless told otherwise). */
export function traceExporter(config: TelemetryConfig): SpanExporter {
  const options = {
    url: config.otlpTracesEndpoint,
    // a flush sends every queued batch at once: none may be refused for concurrency
    concurrencyLimit: exportConcurrency(config.spanExport),
  };
  return config.otlpTracesProtocol === 'http/json'
    ? new JsonTraceExporter(options)
    : new ProtobufTraceExporter(options);
}

function metricExporter(config: TelemetryConfig): PushMetricExporter {
  const options = { url: config.otlpMetricsEndpoint };
  return config.otlpMetricsProtocol === 'http/json'
    ? new JsonMetricExporter(options)
    : new ProtobufMetricExporter(options);
}

const noopMeterProvider: MeterProvider = { getMeter: () => createNoopMeter() };

/**
 * The instrumentations of the libraries tracechat uses, and no others: each one loaded costs
 * start-up time and a require hook. They make spans only: their metrics (pg and HTTP durations,
 * pool counts) are read by no dashboard or alert, yet would cost a histogram record with its
 * attribute hashing on every query and request, so they get a meter that records nothing.
 * `fs`, `dns` and `net` are absent on purpose: noise, and stray one-span traces.
 */
function libraryInstrumentations(): Instrumentation[] {
  return [
    // A batch RPC belongs to no single message: each of its calls carries its own trace context
    // and is traced on its own (see docs/tracing.md).
    new GrpcInstrumentation({ ignoreGrpcMethods: BATCH_METHODS }),
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => isIgnoredIncomingRequest(req.method, req.url),
    }),
    // pool checkouts make no span of their own: the query span shows what the query took
    new PgInstrumentation({
      requireParentSpan: true,
      enhancedDatabaseReporting: false,
      ignoreConnectSpans: true,
    }),
    new IORedisInstrumentation({ requireParentSpan: true }),
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      ignorePaths: ({ url, method }: { url: string; method: string | string[] }) =>
        untracedRoute(url, method),
    }),
  ];
}

/**
 * What the spans and metrics of this process say about it: the service's identity, host and pid
 * (plus OTEL_RESOURCE_ATTRIBUTES, read by the SDK's env detector). A resource goes out once per
 * export, but the collector's tail sampler copies it into every trace it holds and Jaeger stores
 * it with every trace, so it is kept small: the SDK's process and host detectors would add the
 * command line, executable, runtime, owner, host id and architecture (ten more attributes, ~400
 * bytes per trace and service) that nothing reads.
 */
export function telemetryResource(config: TelemetryConfig): Resource {
  return resourceFromAttributes({
    'service.name': config.serviceName,
    'service.version': config.serviceVersion,
    'service.instance.id': config.serviceInstanceId,
    'deployment.environment.name': config.environment,
    'host.name': hostname(),
    'process.pid': process.pid,
  });
}

/**
 * The span processors, in order: the span clock first (it sets start times, which the others
 * read at the end), then one per OTEL_TRACES_EXPORTER entry: OTLP through the counting batch
 * processor, the service's log one span at a time as it ends.
 */
export function spanProcessors(config: TelemetryConfig): SpanProcessor[] {
  const processors: SpanProcessor[] = [new SpanClockProcessor()];
  for (const exporter of config.tracesExporters) {
    if (exporter === 'otlp')
      processors.push(countingBatchSpanProcessor(traceExporter(config), config.spanExport));
    else
      processors.push(
        new SimpleSpanProcessor(
          new LogSpanExporter(createLogger({ name: config.serviceName, level: config.logLevel })),
        ),
      );
  }
  return processors;
}

/**
 * Starts OpenTelemetry for this process: spans timed by the span clock, OTLP/HTTP traces
 * (protobuf unless configured otherwise) through a counting batch processor and/or the log, OTLP metrics, the head sampler, W3C propagation, and the
 * instrumentations of gRPC, HTTP, fastify, pg and ioredis. Idempotent; a no-op when disabled.
 */
export function startTelemetry(config: TelemetryConfig): void {
  if (holder[KEY] || !config.enabled) return;
  diag.setLogger(stderrDiag, DiagLogLevel.WARN);
  // before anything the service requires: each library is patched as it loads
  registerInstrumentations({
    instrumentations: libraryInstrumentations(),
    meterProvider: noopMeterProvider,
  });
  const sampler = new ChatSampler(config.sampling);
  const sdk = new NodeSDK({
    resource: telemetryResource(config),
    resourceDetectors: [envDetector],
    sampler,
    spanProcessors: spanProcessors(config),
    metricReaders:
      config.metricsExporter === 'none'
        ? []
        : [
            new PeriodicExportingMetricReader({
              exporter: metricExporter(config),
              exportIntervalMillis: config.metricsExportIntervalMs,
              exportTimeoutMillis: Math.min(config.metricsExportIntervalMs, 30_000),
            }),
          ],
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    // event loop, GC and heap metrics, read once per export
    instrumentations: [new RuntimeNodeInstrumentation()],
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
