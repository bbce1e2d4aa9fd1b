import { resolve } from 'node:path';
import { ConfigError } from '@tracechat/config';
import { DEV_AUTH_SECRET } from '@tracechat/contracts';
import type { Env } from '@tracechat/config';
import { loadConfig as load } from '../src/config';

const STRONG = 'a-production-secret-of-forty-characters!';
/** Every service needs the internal-call secret; these tests are about the others. */
const SERVICE = 'a-service-secret-of-at-least-32-characters';
const loadConfig = (env: Env) => load({ SERVICE_SECRET: SERVICE, ...env });

describe('loadConfig — the token secret', () => {
  it('falls back to the development secret only in development', () => {
    expect(loadConfig({}).authSecret).toBe(DEV_AUTH_SECRET);
    expect(loadConfig({ ENVIRONMENT: 'development' }).authSecret).toBe(DEV_AUTH_SECRET);
    for (const environment of ['test', 'compose', 'production']) {
      expect(() => loadConfig({ ENVIRONMENT: environment })).toThrow(ConfigError);
      expect(() => loadConfig({ ENVIRONMENT: environment })).toThrow(/AUTH_SECRET is required/);
    }
  });

  it('refuses a secret under 32 characters outside development, without echoing it', () => {
    const short = 'short-secret-of-31-characters!!';
    expect(() => loadConfig({ ENVIRONMENT: 'test', AUTH_SECRET: short })).toThrow(
      /AUTH_SECRET must be at least 32 characters/,
    );
    expect(() => loadConfig({ ENVIRONMENT: 'test', AUTH_SECRET: short })).not.toThrow(
      new RegExp(short),
    );
    expect(loadConfig({ ENVIRONMENT: 'test', AUTH_SECRET: STRONG }).authSecret).toBe(STRONG);
  });

  it('refuses the development secret in production only', () => {
    expect(() => loadConfig({ ENVIRONMENT: 'production', AUTH_SECRET: DEV_AUTH_SECRET })).toThrow(
      /public development secret/,
    );
    for (const environment of ['development', 'test', 'bench']) {
      expect(
        loadConfig({ ENVIRONMENT: environment, AUTH_SECRET: DEV_AUTH_SECRET }).authSecret,
      ).toBe(DEV_AUTH_SECRET);
    }
  });
});

describe('loadConfig — limits', () => {
  it('has documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      authMaxTokenLifetimeSeconds: 86_400,
      authIssuer: undefined,
      authAudience: undefined,
      adminHost: '127.0.0.1',
      adminPort: 8090,
      maxBufferedBytes: 4 * 1024 * 1024,
      maxConnections: 50_000,
      maxConnectionsPerUser: 16,
      maxConnectionsPerAddress: 1024,
      allowedOrigins: [],
    });
  });

  it('reads every limit and names a malformed one', () => {
    const config = loadConfig({
      AUTH_MAX_TOKEN_LIFETIME: '600',
      AUTH_ISSUER: 'https://auth.example.com',
      AUTH_AUDIENCE: 'tracechat',
      ADMIN_HOST: '0.0.0.0',
      ADMIN_PORT: '9000',
      WS_MAX_BUFFERED_BYTES: '1048576',
      WS_MAX_CONNECTIONS: '10',
      WS_MAX_CONNECTIONS_PER_USER: '2',
      WS_MAX_CONNECTIONS_PER_ADDRESS: '5',
      ALLOWED_ORIGINS: 'https://chat.example.com, http://localhost:3000/',
    });
    expect(config).toMatchObject({
      authMaxTokenLifetimeSeconds: 600,
      authIssuer: 'https://auth.example.com',
      authAudience: 'tracechat',
      adminHost: '0.0.0.0',
      adminPort: 9000,
      maxBufferedBytes: 1_048_576,
      maxConnections: 10,
      maxConnectionsPerUser: 2,
      maxConnectionsPerAddress: 5,
      allowedOrigins: ['https://chat.example.com', 'http://localhost:3000'],
    });
    expect(() => loadConfig({ WS_MAX_CONNECTIONS_PER_USER: '0' })).toThrow(
      /WS_MAX_CONNECTIONS_PER_USER/,
    );
    expect(() => loadConfig({ WS_MAX_BUFFERED_BYTES: 'lots' })).toThrow(/WS_MAX_BUFFERED_BYTES/);
    expect(() => loadConfig({ ALLOWED_ORIGINS: 'chat.example.com' })).toThrow(/ALLOWED_ORIGINS/);
    expect(() => loadConfig({ ALLOWED_ORIGINS: 'https://chat.example.com/app' })).toThrow(
      /ALLOWED_ORIGINS/,
    );
  });
});

describe('loadConfig — the web app and its HTTP API', () => {
  it('has documented defaults: the workspace build, the local Jaeger, no Jaeger UI', () => {
    expect(loadConfig({})).toMatchObject({
      environment: 'development',
      webRoot: resolve(__dirname, '..', '..', 'web', 'dist'),
      jaegerQueryUrl: 'http://127.0.0.1:16686',
      jaegerUiUrl: undefined,
      webOtlpMaxBytes: 262_144,
      otlpTracesUrl: 'http://127.0.0.1:4318/v1/traces',
      tracePendingSeconds: 30,
    });
  });

  it('reads each variable, and names a malformed one', () => {
    expect(
      loadConfig({
        ENVIRONMENT: 'compose',
        AUTH_SECRET: STRONG,
        WEB_ROOT: '/srv/web',
        JAEGER_QUERY_URL: 'http://jaeger:16686/',
        JAEGER_UI_URL: 'http://localhost:16686/',
        WEB_OTLP_MAX_BYTES: '1MiB',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318/',
        TRACE_PENDING_SECONDS: '5',
      }),
    ).toMatchObject({
      environment: 'compose',
      webRoot: '/srv/web',
      jaegerQueryUrl: 'http://jaeger:16686',
      jaegerUiUrl: 'http://localhost:16686',
      webOtlpMaxBytes: 1_048_576,
      otlpTracesUrl: 'http://otel-collector:4318/v1/traces',
      tracePendingSeconds: 5,
    });
    expect(loadConfig({ JAEGER_UI_URL: '' }).jaegerUiUrl).toBeUndefined();
    for (const [name, value] of [
      ['JAEGER_QUERY_URL', 'jaeger:16686'],
      ['JAEGER_UI_URL', 'ftp://jaeger'],
      ['WEB_OTLP_MAX_BYTES', 'lots'],
      ['WEB_OTLP_MAX_BYTES', '10'],
      ['TRACE_PENDING_SECONDS', '0'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector'],
    ]) {
      expect(() => loadConfig({ [name!]: value })).toThrow(new RegExp(name!));
    }
  });
});

describe('loadConfig — MQTT', () => {
  it('has documented defaults: port 1884 on the gateway host, packets a bit above a frame', () => {
    expect(loadConfig({ GATEWAY_HOST: '0.0.0.0', MAX_FRAME_BYTES: '2048' })).toMatchObject({
      mqttPort: 1884,
      mqttHost: '0.0.0.0',
      mqttMaxPacketBytes: 2048 + 1024,
      mqttReceiveMaximum: 32,
      mqttTopicAliasMaximum: 16,
      mqttTraceLevel: 1,
      mqttMaxKeepAliveSeconds: 300,
    });
  });

  it('reads every MQTT variable, and MQTT_PORT=off turns the listener off', () => {
    expect(
      loadConfig({
        MQTT_PORT: '0',
        MQTT_HOST: '127.0.0.2',
        MQTT_MAX_PACKET_BYTES: '65536',
        MQTT_RECEIVE_MAXIMUM: '4',
        MQTT_TOPIC_ALIAS_MAXIMUM: '0',
        MQTT_TRACE_LEVEL: '2',
        MQTT_MAX_KEEPALIVE_SECONDS: '60',
      }),
    ).toMatchObject({
      mqttPort: 0,
      mqttHost: '127.0.0.2',
      mqttMaxPacketBytes: 65_536,
      mqttReceiveMaximum: 4,
      mqttTopicAliasMaximum: 0,
      mqttTraceLevel: 2,
      mqttMaxKeepAliveSeconds: 60,
    });
    expect(loadConfig({ MQTT_PORT: 'off' }).mqttPort).toBeUndefined();
    expect(loadConfig({ MQTT_PORT: 'OFF' }).mqttPort).toBeUndefined();
  });

  it('names every malformed MQTT variable in one error', () => {
    let message = '';
    try {
      loadConfig({
        MQTT_PORT: 'eighteen',
        MQTT_MAX_PACKET_BYTES: '10',
        MQTT_RECEIVE_MAXIMUM: '0',
        MQTT_TOPIC_ALIAS_MAXIMUM: '-1',
        MQTT_TRACE_LEVEL: '3',
        MQTT_MAX_KEEPALIVE_SECONDS: 'x',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of [
      'MQTT_PORT: expected a port',
      'MQTT_MAX_PACKET_BYTES',
      'MQTT_RECEIVE_MAXIMUM',
      'MQTT_TOPIC_ALIAS_MAXIMUM',
      'MQTT_TRACE_LEVEL',
      'MQTT_MAX_KEEPALIVE_SECONDS',
    ]) {
      expect(message).toContain(name);
    }
  });
});
