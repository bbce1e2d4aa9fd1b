import { ConfigError } from '@tracechat/config';
import { loadTelemetryConfig } from '../src';

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
});
