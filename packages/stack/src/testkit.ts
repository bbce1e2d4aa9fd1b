import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_AUTH_SECRET, signToken } from '@tracechat/contracts';
import { connectNats } from '@tracechat/messaging';
import { dropDatabase } from '@tracechat/postgres';
import { ChatClient } from './client';
import type { ConnectOptions } from './client';
import { startStack } from './stack';
import type { Stack, StackOptions } from './stack';

export interface TestStack extends Stack {
  /** A suffix unique to this run, for user and session names that never meet another run's. */
  readonly run: string;
  /** A user id unique to this run. */
  user(name: string): string;
  session(name: string): string;
  token(userId: string, ttlSeconds?: number): string;
  /** Connects a user to gateway 1 or 2. */
  connect(userId: string, gateway?: 1 | 2, options?: ConnectOptions): Promise<ChatClient>;
  cleanup(): Promise<void>;
}

const BASE_DB = 'postgres://postgres@127.0.0.1:5432';

/**
 * Starts a whole stack for one test file, on free ports, with its own database, JetStream stream,
 * gateway ids and log folder, so test files never see each other's data.
 */
export async function setup(options: Omit<StackOptions, 'ports'> = {}): Promise<TestStack> {
  const run = randomBytes(4).toString('hex');
  const databaseUrl = `${process.env.TEST_DATABASE_BASE_URL ?? BASE_DB}/tracechat_test_${run}`;
  const logDir = mkdtempSync(join(tmpdir(), `tracechat-${run}-`));
  const clients: ChatClient[] = [];
  const stack = await startStack({
    ports: 'free',
    databaseUrl,
    natsStream: `TEST_${run.toUpperCase()}`,
    natsSubjectPrefix: `test.${run}.msg`,
    gatewayIds: [`gateway-1-${run}`, `gateway-2-${run}`],
    logDir,
    dataDir: join(logDir, 'data'),
    environment: 'test',
    spanExportDelayMs: 100,
    // every trace is kept unless a test asks for the sampling tier
    collector: false,
    ...options,
  });
  return {
    ...stack,
    run,
    user: (name) => `${name}-${run}`,
    session: (name) => `${name}-${run}`,
    token: (userId, ttl) => signToken(userId, DEV_AUTH_SECRET, ttl),
    connect: async (userId, gateway = 1, connectOptions = {}) => {
      const client = await ChatClient.connect(stack.gatewayUrls[gateway - 1], {
        token: signToken(userId, DEV_AUTH_SECRET),
        ...connectOptions,
      });
      clients.push(client);
      return client;
    },
    cleanup: async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
      await stack.stop();
      const nats = await connectNats(
        options.natsUrl ?? 'nats://127.0.0.1:4222',
        'tracechat-testkit',
      );
      try {
        const jsm = await nats.jetstreamManager();
        for (const name of [`TEST_${run.toUpperCase()}`, `TEST_${run.toUpperCase()}_DLQ`]) {
          await jsm.streams.delete(name).catch(() => undefined);
        }
      } finally {
        await nats.close();
      }
      await dropDatabase(databaseUrl);
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}
