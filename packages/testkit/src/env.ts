const DEFAULT_DATABASE_BASE_URL = 'postgres://postgres@127.0.0.1:5432';

/**
 * The Postgres server tests create their databases on: `TEST_DATABASE_BASE_URL`
 * (e.g. `postgres://postgres@127.0.0.1:5432`; a database name on it is ignored). Empty means unset.
 */
export function testDatabaseBaseUrl(): string {
  return process.env.TEST_DATABASE_BASE_URL || DEFAULT_DATABASE_BASE_URL;
}

/** Redis for tests: `REDIS_URL`, as the services read it. */
export function testRedisUrl(): string {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

/** NATS for tests: `NATS_URL`, as the services read it. */
export function testNatsUrl(): string {
  return process.env.NATS_URL || 'nats://127.0.0.1:4222';
}
