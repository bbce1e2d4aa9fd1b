import { Redis } from 'ioredis';
import { natsReady, openChatStream, streamUsage } from '@tracechat/messaging';
import type { NatsConnection } from '@tracechat/messaging';
import {
  MemberCache,
  Presence,
  WhitelistStore,
  followMembershipChanges,
} from '@tracechat/presence';
import { LogicClient, ServiceTokens } from '@tracechat/protos';
import { startHealthServer } from '@tracechat/runtime';
import type { HealthServer } from '@tracechat/runtime';
import { setGauge, startWhitelistSync } from '@tracechat/telemetry';
import { Attr, MetricName } from '@tracechat/contracts';
import type { Logger, WhitelistSync } from '@tracechat/telemetry';
import type { TaskConfig } from './config';
import { MessageConsumer } from './consumer';
import { Pusher } from './pusher';
import { Router } from './router';

export interface Task {
  /** Connects, joins the durable consumer and starts routing; resolves with the health port. */
  listen(): Promise<{ healthPort: number }>;
  /** Stops pulling, finishes in-flight messages, closes clients. */
  close(): Promise<void>;
}

/** A backstop for a missed member-change announcement; announcements normally clear entries. */
const MEMBER_CACHE_TTL_MS = 60_000;

/** Bound on every Redis command: presence lookups answer in a millisecond when Redis is well. */
const REDIS_COMMAND_TIMEOUT_MS = 2000;

export function buildTask(config: TaskConfig, log: Logger): Task {
  const tokens = new ServiceTokens({ service: 'task' }, config.serviceSecret);
  const logic = new LogicClient(config.logicAddress, config.rpcDeadlineMs, tokens);
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    keyPrefix: config.redisKeyPrefix,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // the presence lookups of many messages leave in one write
    enableAutoPipelining: true,
  });
  // a subscribed connection can do nothing else: member-change announcements get their own
  const subscriber = redis.duplicate();
  const members = new MemberCache(
    MEMBER_CACHE_TTL_MS,
    config.memberCacheMaxSessions,
    config.memberCacheMaxMembers,
  );
  const presence = new Presence(redis, config.presenceTtlSeconds);
  const pusher = new Pusher(config.pushDeadlineMs, tokens, {
    attempts: config.pushAttempts,
    baseDelayMs: config.pushRetryDelayMs,
    maxDelayMs: config.pushRetryMaxDelayMs,
  });
  let pruneTimer: NodeJS.Timeout | undefined;
  let streamTimer: NodeJS.Timeout | undefined;
  let nats: NatsConnection | undefined;
  let consumer: MessageConsumer | undefined;
  let health: HealthServer | undefined;
  let whitelistSync: WhitelistSync | undefined;
  redis.on('error', (err) => log.warn({ err }, 'redis error'));
  subscriber.on('error', (err) => log.warn({ err }, 'redis subscriber error'));

  return {
    async listen() {
      await redis.connect();
      await followMembershipChanges(subscriber, config.redisKeyPrefix, members);
      whitelistSync = startWhitelistSync(
        new WhitelistStore(redis),
        config.whitelistSyncIntervalMs,
        (err) => log.warn({ err }, 'sampling whitelist refresh failed'),
      );
      nats = await openChatStream(config.natsUrl, 'tracechat-task', {
        stream: config.natsStream,
        subjectPrefix: config.natsSubjectPrefix,
        ...config.natsStreamLimits,
      });
      consumer = new MessageConsumer(
        nats,
        {
          stream: config.natsStream,
          subjectPrefix: config.natsSubjectPrefix,
          durable: config.natsConsumer,
          ackWaitMs: config.ackWaitMs,
          maxDeliver: config.maxDeliver,
          concurrency: config.concurrency,
          retryDelayMs: config.retryDelayMs,
          routeRetry: {
            attempts: 8,
            baseDelayMs: config.pushRetryDelayMs,
            maxDelayMs: config.pushRetryMaxDelayMs,
          },
          deadLetterStream: config.deadLetterStream,
          deadLetterMaxBytes: config.natsStreamLimits.maxBytes,
        },
        new Router(logic, presence, members),
        pusher,
        log,
      );
      await consumer.start();
      const natsConn = nats;
      const live = consumer;
      pruneTimer = setInterval(() => {
        presence
          .gatewayAddresses(pusher.gatewayIds)
          .then((addresses) => pusher.retain(addresses))
          .catch((err: unknown) => log.warn({ err }, 'pruning push clients failed'));
      }, config.clientPruneIntervalMs);
      pruneTimer.unref();
      const jsm = await nats.jetstreamManager();
      // how full the streams are against max_bytes (alert NatsStreamNearlyFull)
      const watchStreams = async () => {
        for (const stream of [config.natsStream, config.deadLetterStream]) {
          const usage = await streamUsage(jsm, stream);
          const attrs = { [Attr.MESSAGING_NATS_STREAM]: stream };
          setGauge(MetricName.NATS_STREAM_BYTES, usage.bytes, attrs, 'Bytes the stream holds');
          setGauge(
            MetricName.NATS_STREAM_MAX_BYTES,
            usage.maxBytes,
            attrs,
            "The stream's max_bytes limit",
          );
        }
      };
      await watchStreams();
      streamTimer = setInterval(() => {
        watchStreams().catch((err: unknown) => log.warn({ err }, 'reading stream usage failed'));
      }, config.streamCheckIntervalMs);
      streamTimer.unref();
      health = await startHealthServer(
        { host: config.healthHost, port: config.healthPort },
        {
          logic: () => logic.ready(1000),
          redis: () => redis.ping(),
          nats: () => natsReady(natsConn),
          consumer: () => live.check(),
        },
      );
      log.info({ healthPort: health.port, consumer: config.natsConsumer }, 'task consuming');
      return { healthPort: health.port };
    },

    async close() {
      health?.markDraining();
      whitelistSync?.stop();
      clearInterval(pruneTimer);
      clearInterval(streamTimer);
      await consumer?.stop();
      await nats?.drain().catch(() => undefined);
      pusher.close();
      logic.close();
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
      await health?.close();
    },
  };
}
