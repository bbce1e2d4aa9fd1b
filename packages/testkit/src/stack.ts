import { Redis } from 'ioredis';
import { startIsolatedStack } from '@tracechat/cli';
import type { IsolatedStack, RunNamespace, StackOptions } from '@tracechat/cli';
import { ChatClient } from '@tracechat/client';
import type { ConnectOptions } from '@tracechat/client';
import { DEV_AUTH_SECRET, signToken } from '@tracechat/contracts';
import { ServiceTokens } from '@tracechat/protos';
import type { ServiceIdentity } from '@tracechat/protos';
import { testDatabaseBaseUrl } from './env';

export interface TestStack extends IsolatedStack {
  /** A suffix unique to this run, for user and session names that never meet another run's. */
  readonly run: string;
  readonly namespace: RunNamespace;
  /** A user id unique to this run. */
  user(name: string): string;
  session(name: string): string;
  token(userId: string, ttlSeconds?: number): string;
  /**
   * Service tokens of this stack (signed with its SERVICE_SECRET) for `identity`, `cli` by
   * default: pass `internalClientOptions(tokens)` to a gRPC client of a service.
   */
  serviceTokens(identity?: ServiceIdentity): ServiceTokens;
  /** A gateway's HTTP base URL (`http://127.0.0.1:<port>`): the web app and `/api/`. */
  httpUrl(gateway?: 1 | 2): string;
  /**
   * A gateway's MQTT 5 URL: `mqtt://127.0.0.1:<mqtt1|mqtt2>` over TCP, or
   * `ws://127.0.0.1:<gateway port>/mqtt` with `transport: 'websocket'`. Username = user id,
   * password = `token(userId)`.
   */
  mqttUrl(gateway?: 1 | 2, transport?: 'tcp' | 'websocket'): string;
  /** Connects a user to gateway 1 or 2; `cleanup` closes it. */
  connect(userId: string, gateway?: 1 | 2, options?: ConnectOptions): Promise<ChatClient>;
  /** A Redis client that sees the keys as the services do (under this run's prefix). */
  redis(): Redis;
  /**
   * Calls a gateway's admin API on its admin port (bearer token included); resolves with the
   * response.
   */
  admin(method: string, path: string, body?: unknown, gateway?: 1 | 2): Promise<Response>;
  /** Closes clients, stops the stack and removes its database, stream, Redis keys and logs. */
  cleanup(): Promise<void>;
}

/**
 * Starts a whole stack for one test file, on free ports, in a namespace of its own (database,
 * JetStream stream and consumer, Redis key prefix, gateway ids, log folder), so test files never
 * see each other's data or that of `pnpm start`. Call it in `beforeAll` and `cleanup()` in
 * `afterAll`. Every trace is kept unless `collector: true` asks for the sampling tier.
 */
export async function setup(
  options: Omit<StackOptions, 'ports'> & {
    /** The Postgres server (no database name), e.g. with a password in it; TEST_DATABASE_BASE_URL by default. */
    readonly databaseBaseUrl?: string;
    /** Extra env of both gateways (beside `serviceEnv`, which wins), e.g. `{ ENVIRONMENT: 'development' }`. */
    readonly gatewayEnv?: Record<string, string>;
  } = {},
): Promise<TestStack> {
  const { gatewayEnv, ...stackOptions } = options;
  const stack = await startIsolatedStack({
    databaseBaseUrl: testDatabaseBaseUrl(),
    environment: 'test',
    spanExportDelayMs: 100,
    collector: false,
    ...stackOptions,
    serviceEnv: gatewayEnv
      ? {
          ...stackOptions.serviceEnv,
          'gateway-1': { ...gatewayEnv, ...stackOptions.serviceEnv?.['gateway-1'] },
          'gateway-2': { ...gatewayEnv, ...stackOptions.serviceEnv?.['gateway-2'] },
        }
      : stackOptions.serviceEnv,
  });
  const run = stack.namespace.run;
  const clients: ChatClient[] = [];
  const redisClients: Redis[] = [];
  return {
    ...stack,
    run,
    user: (name) => `${name}-${run}`,
    session: (name) => `${name}-${run}`,
    token: (userId, ttl) => signToken(userId, DEV_AUTH_SECRET, ttl),
    httpUrl: (gateway = 1) =>
      `http://127.0.0.1:${gateway === 1 ? stack.ports.gateway1 : stack.ports.gateway2}`,
    mqttUrl: (gateway = 1, transport = 'tcp') =>
      transport === 'websocket'
        ? `ws://127.0.0.1:${gateway === 1 ? stack.ports.gateway1 : stack.ports.gateway2}/mqtt`
        : stack.mqttUrls[gateway - 1]!,
    serviceTokens: (identity = { service: 'cli' }) =>
      new ServiceTokens(identity, stack.serviceSecret),
    connect: async (userId, gateway = 1, connectOptions = {}) => {
      const client = await ChatClient.connect(stack.gatewayUrls[gateway - 1], {
        token: signToken(userId, DEV_AUTH_SECRET),
        ...connectOptions,
      });
      clients.push(client);
      return client;
    },
    redis: () => {
      const redis = new Redis(stack.redisUrl, {
        keyPrefix: stack.redisKeyPrefix,
        maxRetriesPerRequest: 2,
      });
      redisClients.push(redis);
      return redis;
    },
    admin: (method, path, body, gateway = 1) =>
      fetch(`${stack.adminUrls[gateway - 1]}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${stack.adminToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    cleanup: async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
      await Promise.allSettled(redisClients.map((r) => r.quit()));
      await stack.remove();
    },
  };
}
