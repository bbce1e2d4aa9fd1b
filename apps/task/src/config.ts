import { EnvReader, sharedEnv } from '@tracechat/config';
import type { Env, LogLevel } from '@tracechat/config';

export interface TaskConfig {
  readonly healthHost: string;
  readonly healthPort: number;
  /** logic's ChatService, asked for each session's members. */
  readonly logicAddress: string;
  /** SERVICE_SECRET: signs this service's internal-call tokens and checks its callers'. */
  readonly serviceSecret: string;
  readonly rpcDeadlineMs: number;
  readonly redisUrl: string;
  /** Put before every Redis key this service uses; empty in production, one per run in tests. */
  readonly redisKeyPrefix: string;
  readonly natsUrl: string;
  readonly natsStream: string;
  readonly natsSubjectPrefix: string;
  /** The stream's limits (NATS_STREAM_MAX_BYTES, NATS_STREAM_MAX_AGE), the same in the journal. */
  readonly natsStreamLimits: { readonly maxBytes: number; readonly maxAgeMs: number };
  /** How often the streams' size is read for the `tracechat.nats.stream.bytes` gauge. */
  readonly streamCheckIntervalMs: number;
  /** Sessions whose members are cached, and members cached across them, at most. */
  readonly memberCacheMaxSessions: number;
  readonly memberCacheMaxMembers: number;
  /** Durable consumer shared by every task instance. */
  readonly natsConsumer: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  /** Messages handled at once by one instance. */
  readonly concurrency: number;
  readonly pushDeadlineMs: number;
  /** Deliver calls to one gateway before its push goes to the dead-letter stream. */
  readonly pushAttempts: number;
  /** First wait before retrying a gateway; doubles up to `pushRetryMaxDelayMs`. */
  readonly pushRetryDelayMs: number;
  readonly pushRetryMaxDelayMs: number;
  /** Stream for pushes that exhausted their retries (default `<NATS_STREAM>_DLQ`). */
  readonly deadLetterStream: string;
  /** Delay before a message whose recipients could not be resolved is redelivered. */
  readonly retryDelayMs: number;
  /** How often clients of gateways that left the cluster are closed. */
  readonly clientPruneIntervalMs: number;
  readonly presenceTtlSeconds: number;
  readonly whitelistSyncIntervalMs: number;
  readonly logLevel: LogLevel;
}

export function loadConfig(env: Env): Readonly<TaskConfig> {
  const r = new EnvReader('task', env);
  const shared = sharedEnv(r);
  const natsStream = shared.natsStream();
  return r.done({
    healthHost: r.string('HEALTH_HOST', '127.0.0.1'),
    healthPort: r.int('HEALTH_PORT', 9153, { min: 0, max: 65535 }),
    logicAddress: r.address('LOGIC_ADDRESS', '127.0.0.1:50052'),
    serviceSecret: shared.serviceSecret(),
    rpcDeadlineMs: r.int('RPC_DEADLINE_MS', 5000, { min: 100 }),
    redisUrl: shared.redisUrl(),
    redisKeyPrefix: shared.redisKeyPrefix(),
    natsUrl: shared.natsUrl(),
    natsStream,
    natsSubjectPrefix: shared.natsSubjectPrefix(),
    natsStreamLimits: shared.natsStreamLimits(),
    streamCheckIntervalMs: r.int('NATS_STREAM_CHECK_INTERVAL_MS', 30_000, { min: 100 }),
    memberCacheMaxSessions: r.int('MEMBER_CACHE_MAX_SESSIONS', 100_000, { min: 1 }),
    memberCacheMaxMembers: r.int('MEMBER_CACHE_MAX_MEMBERS', 1_000_000, { min: 1 }),
    natsConsumer: r.string('NATS_CONSUMER', 'task'),
    ackWaitMs: r.int('ACK_WAIT_MS', 30_000, { min: 1000 }),
    maxDeliver: r.int('MAX_DELIVER', 50, { min: 1 }),
    concurrency: r.int('TASK_CONCURRENCY', 256, { min: 1, max: 10_000 }),
    pushDeadlineMs: r.int('PUSH_DEADLINE_MS', 3000, { min: 100 }),
    pushAttempts: r.int('PUSH_ATTEMPTS', 5, { min: 1, max: 100 }),
    pushRetryDelayMs: r.int('PUSH_RETRY_DELAY_MS', 200, { min: 0 }),
    pushRetryMaxDelayMs: r.int('PUSH_RETRY_MAX_DELAY_MS', 2000, { min: 0 }),
    deadLetterStream: r.string('NATS_DEAD_LETTER_STREAM', `${natsStream}_DLQ`),
    retryDelayMs: r.int('RETRY_DELAY_MS', 1000, { min: 0 }),
    clientPruneIntervalMs: r.int('CLIENT_PRUNE_INTERVAL_MS', 30_000, { min: 100 }),
    presenceTtlSeconds: shared.presenceTtlSeconds(),
    whitelistSyncIntervalMs: r.int('WHITELIST_SYNC_INTERVAL_MS', 2000, { min: 100 }),
    logLevel: shared.logLevel(),
  });
}
