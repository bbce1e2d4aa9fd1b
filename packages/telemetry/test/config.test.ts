import { ConfigError } from '@tracechat/config';
import { loadTelemetryConfig } from '../src';
import { DEFAULT_SPAN_EXPORT } from '../src/config';

describe('loadTelemetryConfig', () => {
  it('reads the seeds’ names beside the standard OTEL_* variables', () => {
    const config = loadTelemetryConfig({
      SERVICE_NAME: 'gateway',
      ENVIRONMENT: 'staging',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      SERVICE_INSTANCE_ID: 'gateway-2',
    });
    expect(config).toMatchObject({
      enabled: true,
      serviceName: 'gateway',
      serviceInstanceId: 'gateway-2',
      environment: 'staging',
      otlpTracesEndpoint: 'http://collector:4318/v1/traces',
      otlpMetricsEndpoint: 'http://collector:4318/v1/metrics',
    });
  });

  it('lets OTEL_SERVICE_NAME win and ENABLE_TELEMETRY or OTEL_SDK_DISABLED turn it off', () => {
    expect(loadTelemetryConfig({ SERVICE_NAME: 'a', OTEL_SERVICE_NAME: 'b' }).serviceName).toBe(
      'b',
    );
    expect(loadTelemetryConfig({ ENABLE_TELEMETRY: 'false' }).enabled).toBe(false);
    expect(loadTelemetryConfig({ OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
  });

  it('reads the sampling rules', () => {
    const { sampling } = loadTelemetryConfig({
      TRACECHAT_SAMPLING_RATIO: '0.25',
      TRACECHAT_SAMPLING_FOLLOW_TRACEPARENT: 'false',
      TRACECHAT_SAMPLING_WHITELIST_USERS: 'alice, bob',
      TRACECHAT_SAMPLE_HEARTBEAT: 'off',
    });
    expect(sampling).toEqual({
      ratio: 0.25,
      followTraceparent: false,
      whitelistUsers: ['alice', 'bob'],
      whitelistSessions: [],
      events: { connection: true, session: true, messaging: true, heartbeat: false },
    });
  });

  it('stops on malformed values, naming each variable', () => {
    expect(() =>
      loadTelemetryConfig({
        TRACECHAT_SAMPLING_RATIO: '2',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector',
      }),
    ).toThrow(ConfigError);
    expect(() => loadTelemetryConfig({ TRACECHAT_SAMPLING_RATIO: '2' })).toThrow(
      /TRACECHAT_SAMPLING_RATIO: must be ≤ 1/,
    );
    expect(() => loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: expected a URL/,
    );
  });

  it('exports OTLP/protobuf unless OTEL_EXPORTER_OTLP_PROTOCOL (or a per-signal one) says json', () => {
    expect(loadTelemetryConfig({})).toMatchObject({
      otlpTracesProtocol: 'http/protobuf',
      otlpMetricsProtocol: 'http/protobuf',
    });
    expect(loadTelemetryConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toMatchObject({
      otlpTracesProtocol: 'http/json',
      otlpMetricsProtocol: 'http/json',
    });
    expect(
      loadTelemetryConfig({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }),
    ).toMatchObject({ otlpTracesProtocol: 'http/protobuf', otlpMetricsProtocol: 'http/json' });
    // gRPC would need its own endpoint (4317) and client: refused rather than silently ignored
    expect(() => loadTelemetryConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL: expected one of http\/protobuf, http\/json/,
    );
  });

  it('sizes the batch span processor for ~20k spans/s, with OTEL_BSP_* overriding each setting', () => {
    expect(loadTelemetryConfig({}).spanExport).toEqual(DEFAULT_SPAN_EXPORT);
    expect(DEFAULT_SPAN_EXPORT).toEqual({
      maxQueueSize: 16_384,
      maxExportBatchSize: 2048,
      scheduledDelayMillis: 1000,
      exportTimeoutMillis: 30_000,
    });
    expect(
      loadTelemetryConfig({
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_BSP_MAX_QUEUE_SIZE: '512',
        OTEL_BSP_EXPORT_TIMEOUT: '5000',
      }).spanExport,
    ).toEqual({
      maxQueueSize: 512,
      // the default batch never exceeds a smaller queue
      maxExportBatchSize: 512,
      scheduledDelayMillis: 50,
      exportTimeoutMillis: 5000,
    });
    expect(() =>
      loadTelemetryConfig({
        OTEL_BSP_MAX_QUEUE_SIZE: '100',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200',
      }),
    ).toThrow(/OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE/);
    expect(() => loadTelemetryConfig({ OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toThrow(
      /OTEL_BSP_SCHEDULE_DELAY: expected an integer/,
    );
  });

  it('sends spans over OTLP unless OTEL_TRACES_EXPORTER lists console, both, or none', () => {
    expect(loadTelemetryConfig({}).tracesExporters).toEqual(['otlp']);
    expect(loadTelemetryConfig({ OTEL_TRACES_EXPORTER: '' }).tracesExporters).toEqual(['otlp']);
    expect(loadTelemetryConfig({ OTEL_TRACES_EXPORTER: 'console' }).tracesExporters).toEqual([
      'console',
    ]);
    expect(
      loadTelemetryConfig({ OTEL_TRACES_EXPORTER: ' otlp , Console,otlp' }).tracesExporters,
    ).toEqual(['otlp', 'console']);
    expect(loadTelemetryConfig({ OTEL_TRACES_EXPORTER: 'none' }).tracesExporters).toEqual([]);
  });

  it('stops on an unknown OTEL_TRACES_EXPORTER, naming the variable and the value', () => {
    expect(() => loadTelemetryConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(ConfigError);
    expect(() => loadTelemetryConfig({ OTEL_TRACES_EXPORTER: 'otlp,zipkin' })).toThrow(
      /OTEL_TRACES_EXPORTER: unknown exporter "zipkin"; expected a comma list of otlp, console, none/,
    );
    expect(() => loadTelemetryConfig({ OTEL_TRACES_EXPORTER: 'none,console' })).toThrow(
      /OTEL_TRACES_EXPORTER: none cannot be combined with others/,
    );
  });
});
