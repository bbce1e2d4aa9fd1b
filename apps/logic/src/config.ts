import { EnvReader, sharedEnv } from '@tracechat/config';
import type { Env, LogLevel } from '@tracechat/config';
import type { Quotas } from './store';

export interface LogicConfig {
  readonly grpcAddress: string;
  readonly healthHost: string;
  readonly healthPort: number;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** Put before every Redis key this service uses; empty in production, one per run in tests. */
  readonly redisKeyPrefix: string;
  readonly placementAddress: string;
  /** SERVICE_SECRET: signs this service's internal-call tokens and checks its callers'. */
  readonly serviceSecret: string;
  readonly rpcDeadlineMs: number;
  readonly shardCacheSize: number;
  readonly maxTextBytes: number;
  readonly membershipCacheTtlSeconds: number;
  /** Sessions whose members are cached, and members cached across them, at most. */
  readonly memberCacheMaxSessions: number;
  readonly memberCacheMaxMembers: number;
  readonly historyMaxLimit: number;
  /** Quotas on joins and invites (docs/architecture.md, "Limits"). */
  readonly quotas: Quotas;
  readonly whitelistSyncIntervalMs: number;
  readonly logLevel: LogLevel;
}

export function loadConfig(env: Env): Readonly<LogicConfig> {
  const r = new EnvReader('logic', env);
  const shared = sharedEnv(r);
  return r.done({
    grpcAddress: r.address('LOGIC_GRPC_ADDRESS', '127.0.0.1:50052'),
    healthHost: r.string('HEALTH_HOST', '127.0.0.1'),
    healthPort: r.int('HEALTH_PORT', 9152, { min: 0, max: 65535 }),
    databaseUrl: shared.databaseUrl(),
    redisUrl: shared.redisUrl(),
    redisKeyPrefix: shared.redisKeyPrefix(),
    placementAddress: r.address('PLACEMENT_ADDRESS', '127.0.0.1:50053'),
    serviceSecret: shared.serviceSecret(),
    rpcDeadlineMs: r.int('RPC_DEADLINE_MS', 5000, { min: 100 }),
    shardCacheSize: r.int('SHARD_CACHE_SIZE', 100_000, { min: 1 }),
    maxTextBytes: r.int('MAX_TEXT_BYTES', 4096, { min: 1, max: 1_000_000 }),
    membershipCacheTtlSeconds: r.int('MEMBERSHIP_CACHE_TTL_SECONDS', 300, { min: 1 }),
    memberCacheMaxSessions: r.int('MEMBER_CACHE_MAX_SESSIONS', 100_000, { min: 1 }),
    memberCacheMaxMembers: r.int('MEMBER_CACHE_MAX_MEMBERS', 1_000_000, { min: 1 }),
    historyMaxLimit: r.int('HISTORY_MAX_LIMIT', 200, { min: 1, max: 10_000 }),
    quotas: Object.freeze({
      maxSessionsPerUser: r.int('MAX_SESSIONS_PER_USER', 1000, { min: 1 }),
      maxMembersPerSession: r.int('MAX_MEMBERS_PER_SESSION', 10_000, { min: 1 }),
      maxInvitesPerUserPerHour: r.int('MAX_INVITES_PER_USER_PER_HOUR', 500, { min: 1 }),
    }),
    whitelistSyncIntervalMs: r.int('WHITELIST_SYNC_INTERVAL_MS', 2000, { min: 100 }),
    logLevel: shared.logLevel(),
  });
}
