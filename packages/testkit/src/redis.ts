import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteRedisKeys } from '@tracechat/cli';
import { testRedisUrl } from './env';

export interface TestRedis {
  /** Every key this client reads or writes starts with `prefix` (ioredis `keyPrefix`). */
  readonly redis: Redis;
  readonly prefix: string;
  /** Deletes every key under the prefix and closes the client. */
  cleanup(): Promise<void>;
}

/**
 * A Redis client whose keys live under a prefix of this run's own (`test:<run>:`), so tests
 * never see the keys of another run or of `pnpm start`. Services get the same isolation from
 * `REDIS_KEY_PREFIX`, which `setup()` sets.
 */
export async function createTestRedis(
  prefix = `test:${randomBytes(4).toString('hex')}:`,
): Promise<TestRedis> {
  const url = testRedisUrl();
  const redis = new Redis(url, { keyPrefix: prefix, lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  return {
    redis,
    prefix,
    cleanup: async () => {
      await redis.quit().catch(() => redis.disconnect());
      await deleteRedisKeys(url, prefix);
    },
  };
}
