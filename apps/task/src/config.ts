import { EnvReader } from '@tracechat/config';
import type { Env } from '@tracechat/config';

export interface TaskConfig {
  readonly healthHost: string;
  readonly healthPort: number;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** Put before every Redis key this service uses; empty in production, one per run in tests. */
  readonly redisKeyPrefix: string;
  readonly natsUrl: string;
  readonly natsStream: string;
  readonly natsSubjectPrefix: string;
  /** Durable consumer shared by every task instance. */
  readonly natsConsumer: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  /** Messages handled at once by one instance. */
  readonly concurrency: number;
  readonly pushDeadlineMs: number;
  readonly retryDelayMs: number;
  readonly presenceTtlSeconds: number;
  readonly whitelistSyncIntervalMs: number;
  readonly logLevel: string;
}

export function loadConfig(env: Env): Readonly<TaskConfig> {
  const r = new EnvReader('task', env);
  return r.done({
    healthHost: r.string('HEALTH_HOST', '127.0.0.1'),
    healthPort: r.int('HEALTH_PORT', 9153, { min: 0, max: 65535 }),
    databaseUrl: r.url('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/tracechat', [
      'postgres:',
      'postgresql:',
    ]),
    redisUrl: r.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redisKeyPrefix: r.string('REDIS_KEY_PREFIX', ''),
    natsUrl: r.url('NATS_URL', 'nats://127.0.0.1:4222', ['nats:', 'tls:']),
    natsStream: r.string('NATS_STREAM', 'CHAT'),
    natsSubjectPrefix: r.string('NATS_SUBJECT_PREFIX', 'chat.msg'),
    natsConsumer: r.string('NATS_CONSUMER', 'task'),
    ackWaitMs: r.int('ACK_WAIT_MS', 30_000, { min: 1000 }),
    maxDeliver: r.int('MAX_DELIVER', 50, { min: 1 }),
    concurrency: r.int('TASK_CONCURRENCY', 64, { min: 1, max: 10_000 }),
    pushDeadlineMs: r.int('PUSH_DEADLINE_MS', 3000, { min: 100 }),
    retryDelayMs: r.int('RETRY_DELAY_MS', 1000, { min: 0 }),
    presenceTtlSeconds: r.int('PRESENCE_TTL_SECONDS', 30, { min: 2 }),
    whitelistSyncIntervalMs: r.int('WHITELIST_SYNC_INTERVAL_MS', 2000, { min: 100 }),
    logLevel: r.string('LOG_LEVEL', 'info'),
  });
}
