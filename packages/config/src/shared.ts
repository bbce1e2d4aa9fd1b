import type { EnvReader } from './env';

/** Defaults of the variables several services read; each is read only through `sharedEnv`. */
export const SHARED_DEFAULTS = {
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/tracechat',
  redisUrl: 'redis://127.0.0.1:6379',
  natsUrl: 'nats://127.0.0.1:4222',
  natsStream: 'CHAT',
  natsSubjectPrefix: 'chat.msg',
  presenceTtlSeconds: 30,
  natsStreamMaxBytes: 1024 ** 3,
  natsStreamMaxAgeMs: 7 * 24 * 3600 * 1000,
  logLevel: 'info',
} as const;

/** Shortest SERVICE_SECRET a service accepts. */
export const MIN_SERVICE_SECRET_LENGTH = 32;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The variables that mean the same in every service, with one parser each, so two services
 * can never read one variable two ways.
 */
export function sharedEnv(r: EnvReader) {
  return {
    databaseUrl: () =>
      r.url('DATABASE_URL', SHARED_DEFAULTS.databaseUrl, ['postgres:', 'postgresql:']),
    redisUrl: () => r.url('REDIS_URL', SHARED_DEFAULTS.redisUrl, ['redis:', 'rediss:']),
    /** Put before every Redis key a service writes, so several stacks can share one Redis. */
    redisKeyPrefix: () => r.string('REDIS_KEY_PREFIX', ''),
    natsUrl: () => r.url('NATS_URL', SHARED_DEFAULTS.natsUrl, ['nats:', 'tls:']),
    natsStream: () => r.string('NATS_STREAM', SHARED_DEFAULTS.natsStream),
    natsSubjectPrefix: () => r.string('NATS_SUBJECT_PREFIX', SHARED_DEFAULTS.natsSubjectPrefix),
    /**
     * The chat stream's limits: past either, JetStream drops the oldest messages. Every service
     * that creates the stream (journal, task) applies them, so they must agree.
     */
    natsStreamLimits: () => ({
      maxBytes: r.bytes('NATS_STREAM_MAX_BYTES', SHARED_DEFAULTS.natsStreamMaxBytes, {
        min: 1024 * 1024,
      }),
      maxAgeMs: r.duration('NATS_STREAM_MAX_AGE', SHARED_DEFAULTS.natsStreamMaxAgeMs, {
        minMs: 60_000,
      }),
    }),
    /** How long a user stays online without a heartbeat; gateway writes it, task reads it. */
    presenceTtlSeconds: () =>
      r.int('PRESENCE_TTL_SECONDS', SHARED_DEFAULTS.presenceTtlSeconds, { min: 2 }),
    logLevel: (): LogLevel => r.oneOf('LOG_LEVEL', SHARED_DEFAULTS.logLevel, LOG_LEVELS),
    /**
     * Adopt a client's trace context (EMQX's follow_traceparent): its traceparent becomes the
     * parent of the frame's span, and with it the sampled flag. Off: every frame starts a trace.
     */
    followTraceparent: () => r.bool('TRACECHAT_SAMPLING_FOLLOW_TRACEPARENT', true),
    /**
     * The key every service signs and checks its internal-call tokens with. Required in every
     * environment (there is no development default), at least MIN_SERVICE_SECRET_LENGTH
     * characters.
     */
    serviceSecret: () => {
      const secret = r.required('SERVICE_SECRET', 'is required (the key of internal-call tokens)');
      if (secret && secret.length < MIN_SERVICE_SECRET_LENGTH) {
        r.problem(`SERVICE_SECRET must be at least ${MIN_SERVICE_SECRET_LENGTH} characters`);
      }
      return secret;
    },
  };
}
