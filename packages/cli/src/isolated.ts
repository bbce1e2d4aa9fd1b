import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connectNats } from '@tracechat/messaging';
import { dropDatabase } from '@tracechat/postgres';
import { startStack } from './stack';
import type { Stack, StackOptions } from './stack';

const DEFAULT_DATABASE_BASE = 'postgres://postgres@127.0.0.1:5432';

/**
 * Names of everything one run owns in the shared Postgres, Redis and NATS, so it never meets the
 * data of another run or of `pnpm start`: a database, a JetStream stream, subject prefix and
 * consumer, a Redis key prefix and gateway ids, all carrying the run id.
 */
export interface RunNamespace {
  readonly run: string;
  readonly databaseUrl: string;
  readonly natsStream: string;
  readonly natsSubjectPrefix: string;
  readonly natsConsumer: string;
  readonly redisKeyPrefix: string;
  readonly gatewayIds: readonly [string, string];
}

/**
 * A fresh namespace. `databaseBaseUrl` is the server URL without a database name
 * (`postgres://postgres@127.0.0.1:5432`); a path on it is replaced.
 */
export function runNamespace(
  databaseBaseUrl: string = DEFAULT_DATABASE_BASE,
  run: string = randomBytes(4).toString('hex'),
): RunNamespace {
  const database = new URL(databaseBaseUrl);
  database.pathname = `/tracechat_test_${run}`;
  return {
    run,
    databaseUrl: database.toString(),
    natsStream: `TEST_${run.toUpperCase()}`,
    natsSubjectPrefix: `test.${run}.msg`,
    natsConsumer: `task-${run}`,
    redisKeyPrefix: `test:${run}:`,
    gatewayIds: [`gateway-1-${run}`, `gateway-2-${run}`],
  };
}

/** Deletes every Redis key under `prefix`; resolves with how many there were. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  if (prefix === '') throw new Error('refusing to delete Redis keys without a prefix');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(
        cursor,
        'MATCH',
        `${escapeGlob(prefix)}*`,
        'COUNT',
        500,
      );
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Removes a run's stream (with its consumers), Redis keys and database; missing ones are fine. */
export async function removeNamespace(
  ns: RunNamespace,
  urls: { readonly redisUrl: string; readonly natsUrl: string },
): Promise<void> {
  const nats = await connectNats(urls.natsUrl, `tracechat-cleanup-${ns.run}`);
  try {
    const jsm = await nats.jetstreamManager();
    // the chat stream and task's dead-letter stream beside it
    for (const stream of [ns.natsStream, `${ns.natsStream}_DLQ`]) {
      await jsm.streams.delete(stream).catch((err: Error) => {
        if (!/stream not found/i.test(err.message)) throw err;
      });
    }
  } finally {
    await nats.close();
  }
  await deleteRedisKeys(urls.redisUrl, ns.redisKeyPrefix);
  await dropDatabase(ns.databaseUrl);
}

export interface IsolatedStack extends Stack {
  readonly namespace: RunNamespace;
  /** Stops the stack and removes its namespace, logs and journal data. */
  remove(): Promise<void>;
}

/**
 * A whole stack on free ports in a namespace of its own (see `RunNamespace`), with logs and
 * journal data in a temporary folder; `remove()` leaves nothing behind.
 */
export async function startIsolatedStack(
  options: Omit<StackOptions, 'ports'> & { readonly databaseBaseUrl?: string } = {},
): Promise<IsolatedStack> {
  const { databaseBaseUrl, ...stackOptions } = options;
  const ns = runNamespace(databaseBaseUrl);
  const logDir = mkdtempSync(join(tmpdir(), `tracechat-${ns.run}-`));
  const redisUrl = options.redisUrl ?? 'redis://127.0.0.1:6379';
  const natsUrl = options.natsUrl ?? 'nats://127.0.0.1:4222';
  const remove = async () => {
    try {
      await removeNamespace(ns, { redisUrl, natsUrl });
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
  };
  let stack: Stack;
  try {
    stack = await startStack({
      ports: 'free',
      databaseUrl: ns.databaseUrl,
      natsStream: ns.natsStream,
      natsSubjectPrefix: ns.natsSubjectPrefix,
      natsConsumer: ns.natsConsumer,
      redisKeyPrefix: ns.redisKeyPrefix,
      gatewayIds: ns.gatewayIds,
      logDir,
      dataDir: join(logDir, 'data'),
      ...stackOptions,
    });
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
  return {
    ...stack,
    namespace: ns,
    remove: async () => {
      await stack.stop();
      await remove();
    },
  };
}
