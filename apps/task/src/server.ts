import { Redis } from 'ioredis';
import { natsReady, openChatStream } from '@tracechat/messaging';
import type { NatsConnection } from '@tracechat/messaging';
import { Presence, WhitelistStore } from '@tracechat/presence';
import { LogicClient } from '@tracechat/protos';
import { startHealthServer } from '@tracechat/runtime';
import type { HealthServer } from '@tracechat/runtime';
import { startWhitelistSync } from '@tracechat/telemetry';
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

export function buildTask(config: TaskConfig, log: Logger): Task {
  const logic = new LogicClient(config.logicAddress, config.rpcDeadlineMs);
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    keyPrefix: config.redisKeyPrefix,
  });
  const pusher = new Pusher(config.pushDeadlineMs);
  let nats: NatsConnection | undefined;
  let consumer: MessageConsumer | undefined;
  let health: HealthServer | undefined;
  let whitelistSync: WhitelistSync | undefined;
  redis.on('error', (err) => log.warn({ err }, 'redis error'));

  return {
    async listen() {
      await redis.connect();
      whitelistSync = startWhitelistSync(
        new WhitelistStore(redis),
        config.whitelistSyncIntervalMs,
        (err) => log.warn({ err }, 'sampling whitelist refresh failed'),
      );
      nats = await openChatStream(config.natsUrl, 'tracechat-task', {
        stream: config.natsStream,
        subjectPrefix: config.natsSubjectPrefix,
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
        },
        new Router(logic, new Presence(redis, config.presenceTtlSeconds)),
        pusher,
        log,
      );
      await consumer.start();
      const natsConn = nats;
      health = await startHealthServer(
        { host: config.healthHost, port: config.healthPort },
        {
          logic: () => logic.ready(1000),
          redis: () => redis.ping(),
          nats: () => natsReady(natsConn),
        },
      );
      log.info({ healthPort: health.port, consumer: config.natsConsumer }, 'task consuming');
      return { healthPort: health.port };
    },

    async close() {
      health?.markDraining();
      whitelistSync?.stop();
      await consumer?.stop();
      await nats?.drain().catch(() => undefined);
      pusher.close();
      logic.close();
      await redis.quit().catch(() => undefined);
      await health?.close();
    },
  };
}
