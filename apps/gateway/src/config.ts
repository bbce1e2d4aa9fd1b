import { resolve } from 'node:path';
import { EnvReader, sharedEnv } from '@tracechat/config';
import {
  DEFAULT_LIMITS,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  DEV_AUTH_SECRET,
  MIN_AUTH_SECRET_LENGTH,
} from '@tracechat/contracts';
import { DEFAULT_OTLP_ENDPOINT } from '@tracechat/telemetry';
import type { Env, LogLevel } from '@tracechat/config';

export interface GatewayConfig {
  readonly gatewayId: string;
  readonly host: string;
  readonly port: number;
  /** Where PushService listens, and the address task dials (advertised in Redis). */
  readonly pushAddress: string;
  readonly pushAdvertiseAddress: string;
  readonly logicAddress: string;
  readonly redisUrl: string;
  /** Put before every Redis key this service uses; empty in production, one per run in tests. */
  readonly redisKeyPrefix: string;
  readonly authSecret: string;
  /** Longest token lifetime accepted (`exp` − `iat`), in seconds. */
  readonly authMaxTokenLifetimeSeconds: number;
  /** When set, a token's `iss` must equal it. */
  readonly authIssuer: string | undefined;
  /** When set, a token's `aud` must name it. */
  readonly authAudience: string | undefined;
  /** SERVICE_SECRET: signs this service's internal-call tokens and checks its callers'. */
  readonly serviceSecret: string;
  readonly maxFrameBytes: number;
  readonly maxTextBytes: number;
  readonly maxHistoryLimit: number;
  readonly rateLimitPerSecond: number;
  readonly rateLimitBurst: number;
  readonly presenceTtlSeconds: number;
  readonly rpcDeadlineMs: number;
  /** Adopt a client's traceparent (EMQX's follow_traceparent); off = every frame starts a trace. */
  readonly followTraceparent: boolean;
  /** Bearer token of the admin API; the API refuses every request when unset. */
  readonly adminToken: string | undefined;
  readonly whitelistSyncIntervalMs: number;
  /** How long a runtime sampling whitelist entry lasts after it was added. */
  readonly whitelistTtlSeconds: number;
  readonly logLevel: LogLevel;
  /** Where the admin API listens: its own port, never the public one. */
  readonly adminHost: string;
  readonly adminPort: number;
  /** Bytes a connection may have waiting to be written before it is closed (1008). */
  readonly maxBufferedBytes: number;
  /** Open connections per gateway, per user and per remote address; past them the upgrade is 429. */
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
  readonly maxConnectionsPerAddress: number;
  /**
   * Origins (`scheme://host[:port]`) a browser's upgrade may come from besides the gateway's own;
   * `*` allows any. An upgrade without `Origin` (not a browser) is always allowed.
   */
  readonly allowedOrigins: readonly string[];
  /** ENVIRONMENT: `development` enables the sign-in by user name (`POST /api/dev/token`). */
  readonly environment: string;
  /** The built web app served at `/` (its `index.html` and hashed assets). */
  readonly webRoot: string;
  /** Jaeger's query API, read server-side by the trace endpoint. */
  readonly jaegerQueryUrl: string;
  /** Jaeger's UI as a browser reaches it, for "Open in Jaeger"; undefined when there is none. */
  readonly jaegerUiUrl: string | undefined;
  /** Largest body `POST /api/otlp/v1/traces` accepts. */
  readonly webOtlpMaxBytes: number;
  /** Where browser spans are forwarded: the collector's OTLP/HTTP traces endpoint. */
  readonly otlpTracesUrl: string;
  /** How long after its send a message without a trace is `pending` rather than `not_sampled`. */
  readonly tracePendingSeconds: number;
  /** The MQTT 5 TCP listener's port (0 picks one); undefined when `MQTT_PORT=off`. */
  readonly mqttPort: number | undefined;
  readonly mqttHost: string;
  /** Largest MQTT packet either way (CONNACK `maximumPacketSize`); larger is DISCONNECT 0x95. */
  readonly mqttMaxPacketBytes: number;
  /** QoS 1 publishes a client may have unacknowledged (CONNACK `receiveMaximum`). */
  readonly mqttReceiveMaximum: number;
  /** Topic aliases a client may use (CONNACK `topicAliasMaximum`); 0 = none. */
  readonly mqttTopicAliasMaximum: number;
  /** 0: no acknowledgement spans, 1: + PUBACK spans (default), 2: + PINGREQ spans. */
  readonly mqttTraceLevel: number;
  /** Longest keep-alive granted; a longer or 0 one is answered with `serverKeepAlive`. */
  readonly mqttMaxKeepAliveSeconds: number;
}

/** `MQTT_PORT` values that turn the TCP listener off. */
const OFF = ['off', 'none', 'disabled', 'false'];

/** The environment in which the development secret may stand in for `AUTH_SECRET`. */
const DEVELOPMENT = 'development';

/** The web app's build output in this workspace: apps/web/dist beside apps/gateway. */
const WORKSPACE_WEB_ROOT = resolve(__dirname, '..', '..', 'web', 'dist');

/** What is wrong with an `ALLOWED_ORIGINS` entry: it must be `*` or an http(s) origin without a path. */
function originProblem(entry: string): string | undefined {
  if (entry === '*') return undefined;
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return 'ALLOWED_ORIGINS: each entry must be * or an origin such as https://chat.example.com';
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.origin !== entry.replace(/\/$/, '')) {
    return 'ALLOWED_ORIGINS: each entry must be * or an origin such as https://chat.example.com';
  }
  return undefined;
}

const HTTP = ['http:', 'https:'] as const;

function isHttpUrl(text: string): boolean {
  try {
    return (HTTP as readonly string[]).includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

export function loadConfig(env: Env): Readonly<GatewayConfig> {
  const r = new EnvReader('gateway', env);
  const shared = sharedEnv(r);
  const environment = r.string('ENVIRONMENT', DEVELOPMENT);
  const secret = r.optionalString('AUTH_SECRET');
  if (secret === undefined) {
    if (environment !== DEVELOPMENT) {
      r.problem(`AUTH_SECRET is required when ENVIRONMENT is not ${DEVELOPMENT}`);
    }
  } else if (secret === DEV_AUTH_SECRET) {
    // the one short secret accepted: a published value, so no length makes it safer
    if (environment === 'production') {
      r.problem('AUTH_SECRET is the public development secret, which production refuses');
    }
  } else if (secret.length < MIN_AUTH_SECRET_LENGTH) {
    r.problem(`AUTH_SECRET must be at least ${MIN_AUTH_SECRET_LENGTH} characters`);
  }
  const allowedOrigins = r.list('ALLOWED_ORIGINS', []).map((entry) => entry.replace(/\/$/, ''));
  const originProblems = new Set(allowedOrigins.map(originProblem).filter((p) => p !== undefined));
  for (const problem of originProblems) r.problem(problem);
  const serviceSecret = shared.serviceSecret();
  // one leaked secret must not give the other: client tokens and service tokens are both HS256
  if (serviceSecret && serviceSecret === (secret ?? DEV_AUTH_SECRET)) {
    r.problem('SERVICE_SECRET must differ from AUTH_SECRET');
  }
  const adminToken = r.optionalString('ADMIN_TOKEN');
  if (adminToken && adminToken.length < 16) r.problem('ADMIN_TOKEN must be at least 16 characters');
  const pushAddress = r.address('PUSH_GRPC_ADDRESS', '127.0.0.1:50051');
  // handed to browsers for their links, never dialed by the gateway: checked as a URL here
  const jaegerUi = r.optionalString('JAEGER_UI_URL');
  if (jaegerUi !== undefined && !isHttpUrl(jaegerUi)) {
    r.problem('JAEGER_UI_URL: expected an http or https URL, as a browser reaches the Jaeger UI');
  }
  const host = r.string('GATEWAY_HOST', '127.0.0.1');
  const maxFrameBytes = r.int('MAX_FRAME_BYTES', DEFAULT_LIMITS.maxFrameBytes, {
    min: 256,
    max: 1_048_576,
  });
  const mqttPortRaw = r.optionalString('MQTT_PORT');
  let mqttPort: number | undefined = 1884;
  if (mqttPortRaw !== undefined && OFF.includes(mqttPortRaw.toLowerCase())) mqttPort = undefined;
  else if (mqttPortRaw !== undefined && !/^\d+$/.test(mqttPortRaw)) {
    r.problem('MQTT_PORT: expected a port (0-65535, 0 picks a free one) or off');
  } else mqttPort = r.int('MQTT_PORT', 1884, { min: 0, max: 65535 });
  return r.done({
    gatewayId: r.string('GATEWAY_ID', 'gateway-1'),
    host,
    port: r.int('GATEWAY_PORT', 8080, { min: 0, max: 65535 }),
    pushAddress,
    pushAdvertiseAddress: r.address('PUSH_ADVERTISE_ADDRESS', pushAddress),
    logicAddress: r.address('LOGIC_ADDRESS', '127.0.0.1:50052'),
    redisUrl: shared.redisUrl(),
    redisKeyPrefix: shared.redisKeyPrefix(),
    authSecret: secret ?? DEV_AUTH_SECRET,
    authMaxTokenLifetimeSeconds: r.int(
      'AUTH_MAX_TOKEN_LIFETIME',
      DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
      { min: 1, max: 366 * 24 * 3600 },
    ),
    authIssuer: r.optionalString('AUTH_ISSUER'),
    authAudience: r.optionalString('AUTH_AUDIENCE'),
    serviceSecret,
    maxFrameBytes,
    maxTextBytes: r.int('MAX_TEXT_BYTES', DEFAULT_LIMITS.maxTextBytes, { min: 1, max: 1_000_000 }),
    maxHistoryLimit: r.int('HISTORY_MAX_LIMIT', DEFAULT_LIMITS.maxHistoryLimit, {
      min: 1,
      max: 10_000,
    }),
    rateLimitPerSecond: r.number('RATE_LIMIT_PER_SECOND', 50, { min: 0.1 }),
    rateLimitBurst: r.int('RATE_LIMIT_BURST', 100, { min: 1 }),
    presenceTtlSeconds: shared.presenceTtlSeconds(),
    // longer than logic's inner timeouts together (docs/architecture.md, "Timeout budget"), so a
    // send reported UNAVAILABLE has really failed
    rpcDeadlineMs: r.int('RPC_DEADLINE_MS', 30_000, { min: 100 }),
    followTraceparent: shared.followTraceparent(),
    adminToken,
    whitelistSyncIntervalMs: r.int('WHITELIST_SYNC_INTERVAL_MS', 2000, { min: 100 }),
    whitelistTtlSeconds: r.int('SAMPLING_WHITELIST_TTL_SECONDS', 7 * 24 * 3600, { min: 1 }),
    logLevel: shared.logLevel(),
    adminHost: r.string('ADMIN_HOST', '127.0.0.1'),
    adminPort: r.int('ADMIN_PORT', 8090, { min: 0, max: 65535 }),
    maxBufferedBytes: r.int('WS_MAX_BUFFERED_BYTES', 4 * 1024 * 1024, {
      min: 65_536,
      max: 1024 * 1024 * 1024,
    }),
    maxConnections: r.int('WS_MAX_CONNECTIONS', 50_000, { min: 1 }),
    maxConnectionsPerUser: r.int('WS_MAX_CONNECTIONS_PER_USER', 16, { min: 1 }),
    maxConnectionsPerAddress: r.int('WS_MAX_CONNECTIONS_PER_ADDRESS', 1024, { min: 1 }),
    allowedOrigins,
    environment,
    webRoot: resolve(r.string('WEB_ROOT', WORKSPACE_WEB_ROOT)),
    jaegerQueryUrl: stripSlash(r.url('JAEGER_QUERY_URL', 'http://127.0.0.1:16686', HTTP)),
    jaegerUiUrl: jaegerUi && stripSlash(jaegerUi),
    webOtlpMaxBytes: r.bytes('WEB_OTLP_MAX_BYTES', 262_144, { min: 1024 }),
    otlpTracesUrl: `${stripSlash(r.url('OTEL_EXPORTER_OTLP_ENDPOINT', DEFAULT_OTLP_ENDPOINT, HTTP))}/v1/traces`,
    tracePendingSeconds: r.int('TRACE_PENDING_SECONDS', 30, { min: 1, max: 3600 }),
    mqttPort,
    mqttHost: r.string('MQTT_HOST', host),
    // a packet's header, topic and properties around a frame's worth of text
    mqttMaxPacketBytes: r.int('MQTT_MAX_PACKET_BYTES', maxFrameBytes + 1024, {
      min: 512,
      max: 16_777_216,
    }),
    mqttReceiveMaximum: r.int('MQTT_RECEIVE_MAXIMUM', 32, { min: 1, max: 65_535 }),
    mqttTopicAliasMaximum: r.int('MQTT_TOPIC_ALIAS_MAXIMUM', 16, { min: 0, max: 65_535 }),
    mqttTraceLevel: r.int('MQTT_TRACE_LEVEL', 1, { min: 0, max: 2 }),
    mqttMaxKeepAliveSeconds: r.int('MQTT_MAX_KEEPALIVE_SECONDS', 300, { min: 1, max: 65_535 }),
  });
}
