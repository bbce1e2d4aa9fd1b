import { EnvReader, sharedEnv } from '@tracechat/config';
import type { Env, LogLevel } from '@tracechat/config';

export interface PlacementConfig {
  readonly grpcAddress: string;
  readonly healthHost: string;
  readonly healthPort: number;
  readonly databaseUrl: string;
  /** SERVICE_SECRET: signs this service's internal-call tokens and checks its callers'. */
  readonly serviceSecret: string;
  /** Shards sessions are hashed over; fixed for the life of a database (see `claimShardCount`). */
  readonly shardCount: number;
  /** A node whose last heartbeat is older than this is down. */
  readonly nodeLeaseMs: number;
  readonly logLevel: LogLevel;
}

export const MAX_SHARD_COUNT = 4096;

export function loadConfig(env: Env): Readonly<PlacementConfig> {
  const r = new EnvReader('placement', env);
  const shared = sharedEnv(r);
  return r.done({
    grpcAddress: r.address('PLACEMENT_GRPC_ADDRESS', '127.0.0.1:50053'),
    healthHost: r.string('HEALTH_HOST', '127.0.0.1'),
    healthPort: r.int('HEALTH_PORT', 9154, { min: 0, max: 65535 }),
    databaseUrl: shared.databaseUrl(),
    serviceSecret: shared.serviceSecret(),
    shardCount: r.int('SHARD_COUNT', 16, { min: 1, max: MAX_SHARD_COUNT }),
    nodeLeaseMs: r.int('NODE_LEASE_MS', 10_000, { min: 100, max: 3_600_000 }),
    logLevel: shared.logLevel(),
  });
}
