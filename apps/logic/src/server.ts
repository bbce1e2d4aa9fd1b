import { Redis } from 'ioredis';
import { createPool } from '@tracechat/postgres';
import type { Pool } from '@tracechat/postgres';
import {
  ServiceTokens,
  batchHandler,
  bindServer,
  countLimitClamped,
  internalServer,
  stopServer,
  tracechatV1,
  unaryHandlers,
} from '@tracechat/protos';
import type { ChatServiceHandlers } from '@tracechat/protos';
import { startHealthServer } from '@tracechat/runtime';
import type { HealthServer } from '@tracechat/runtime';
import { startWhitelistSync } from '@tracechat/telemetry';
import type { Logger, WhitelistSync } from '@tracechat/telemetry';
import { WhitelistStore, followMembershipChanges } from '@tracechat/presence';
import type { LogicConfig } from './config';
import { ChatError, toRpcError } from './errors';
import { Membership } from './membership';
import { ChatService } from './service';
import { JournalWriter, ShardDirectory } from './shards';
import { ChatStore } from './store';

export interface Logic {
  /** Connects to Postgres and Redis, then serves gRPC; resolves with the bound ports. */
  listen(): Promise<{ grpcPort: number; healthPort: number }>;
  /** Stops accepting calls, drains in-flight ones, closes clients. */
  close(): Promise<void>;
}

/** Builds the logic service; nothing connects until `listen`. */
export function buildLogic(config: LogicConfig, log: Logger): Logic {
  const pool: Pool = createPool(config.databaseUrl, 'tracechat-logic');
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    keyPrefix: config.redisKeyPrefix,
    // the membership checks of one batch of sends leave in one write
    enableAutoPipelining: true,
    // every command answers in a millisecond when Redis is well; see docs/architecture.md
    commandTimeout: 2000,
  });
  // a subscribed connection can do nothing else: member-change announcements get their own
  const subscriber = redis.duplicate();
  subscriber.on('error', (err) => log.warn({ err }, 'redis subscriber error'));
  let health: HealthServer | undefined;
  let whitelistSync: WhitelistSync | undefined;
  const server = internalServer({
    secret: config.serviceSecret,
    onRefused: (refusal) => log.warn({ refusal }, 'internal call refused'),
  });
  const tokens = new ServiceTokens({ service: 'logic' }, config.serviceSecret);
  const shards = new ShardDirectory(
    config.placementAddress,
    config.rpcDeadlineMs,
    config.shardCacheSize,
    tokens,
  );
  const journal = new JournalWriter(shards, config.rpcDeadlineMs, tokens);
  pool.on('error', (err) => log.error({ err }, 'postgres pool error'));
  redis.on('error', (err) => log.warn({ err }, 'redis error'));

  const mapError = (err: unknown) => {
    // a dependency failing is the operator's business even though the caller only sees UNAVAILABLE
    if (err instanceof ChatError && err.code === 'UNAVAILABLE')
      log.error({ err }, 'chat call unavailable');
    return toRpcError(err);
  };
  const onInternalError = (err: unknown) => log.error({ err }, 'chat call failed');
  const wrap = unaryHandlers(mapError, onInternalError);

  return {
    async listen() {
      await redis.connect();
      whitelistSync = startWhitelistSync(
        new WhitelistStore(redis),
        config.whitelistSyncIntervalMs,
        (err) => log.warn({ err }, 'sampling whitelist refresh failed'),
      );
      const store = new ChatStore(pool, config.quotas);
      const membership = new Membership(
        redis,
        store,
        config.membershipCacheTtlSeconds,
        config.redisKeyPrefix,
        { maxSessions: config.memberCacheMaxSessions, maxMembers: config.memberCacheMaxMembers },
      );
      await followMembershipChanges(subscriber, config.redisKeyPrefix, membership.cache);
      const chat = new ChatService({
        store,
        membership,
        journal,
        maxTextBytes: config.maxTextBytes,
        historyMaxLimit: config.historyMaxLimit,
        onHistoryClamped: (asked, max) => {
          countLimitClamped('tracechat.v1.ChatService', 'History', 'limit');
          log.warn({ asked, max }, 'history limit lowered to HISTORY_MAX_LIMIT');
        },
        quotas: config.quotas,
        log,
      });
      const handlers: ChatServiceHandlers = {
        SendMessage: wrap((req) => chat.sendMessage(req)),
        SendMessages: batchHandler((req) => chat.sendMessage(req), { mapError, onInternalError }),
        JoinSession: wrap((req) => chat.joinSession(req)),
        InviteMember: wrap((req) => chat.inviteMember(req)),
        ListMembers: wrap((req) => chat.listMembers(req)),
        LeaveSession: wrap((req) => chat.leaveSession(req)),
        History: wrap((req) => chat.history(req)),
        GetMessage: wrap((req) => chat.getMessage(req)),
      };
      server.addService(tracechatV1().ChatService.service, handlers);
      const grpcPort = await bindServer(server, config.grpcAddress);
      health = await startHealthServer(
        { host: config.healthHost, port: config.healthPort },
        {
          postgres: () => pool.query('SELECT 1'),
          redis: () => redis.ping(),
        },
      );
      log.info({ grpcPort, healthPort: health.port }, 'logic listening');
      return { grpcPort, healthPort: health.port };
    },

    async close() {
      health?.markDraining();
      whitelistSync?.stop();
      await stopServer(server);
      journal.close();
      shards.close();
      await Promise.allSettled([redis.quit(), subscriber.quit(), pool.end()]);
      await health?.close();
    },
  };
}
