import { EnvReader, sharedEnv } from '@tracechat/config';
import { DEFAULT_LIMITS, DEV_AUTH_SECRET } from '@tracechat/contracts';
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
}

export function loadConfig(env: Env): Readonly<GatewayConfig> {
  const r = new EnvReader('gateway', env);
  const shared = sharedEnv(r);
  const environment = r.string('ENVIRONMENT', 'development');
  const secret = r.optionalString('AUTH_SECRET');
  if (!secret && environment === 'production') r.problem('AUTH_SECRET is required in production');
  if (secret && secret.length < 16) r.problem('AUTH_SECRET must be at least 16 characters');
  const adminToken = r.optionalString('ADMIN_TOKEN');
  if (adminToken && adminToken.length < 16) r.problem('ADMIN_TOKEN must be at least 16 characters');
  const pushAddress = r.address('PUSH_GRPC_ADDRESS', '127.0.0.1:50051');
  return r.done({
    gatewayId: r.string('GATEWAY_ID', 'gateway-1'),
    host: r.string('GATEWAY_HOST', '127.0.0.1'),
    port: r.int('GATEWAY_PORT', 8080, { min: 0, max: 65535 }),
    pushAddress,
    pushAdvertiseAddress: r.address('PUSH_ADVERTISE_ADDRESS', pushAddress),
    logicAddress: r.address('LOGIC_ADDRESS', '127.0.0.1:50052'),
    redisUrl: shared.redisUrl(),
    redisKeyPrefix: shared.redisKeyPrefix(),
    authSecret: secret ?? DEV_AUTH_SECRET,
    maxFrameBytes: r.int('MAX_FRAME_BYTES', DEFAULT_LIMITS.maxFrameBytes, {
      min: 256,
      max: 1_048_576,
    }),
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
  });
}
