import { resolve } from 'node:path';
import { natsReady, openChatStream } from '@tracechat/messaging';
import type { NatsConnection } from '@tracechat/messaging';
import { createPool } from '@tracechat/postgres';
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
import type { JournalServiceHandlers } from '@tracechat/protos';
import { startHealthServer } from '@tracechat/runtime';
import type { HealthServer } from '@tracechat/runtime';
import { setGauge } from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import type { JournalConfig } from './config';
import { toRpcError } from './errors';
import { MessageLog } from './messages';
import { ProjectionWriter } from './projection-writer';
import { ShardProjector } from './projector';
import { NodeRegistration } from './registration';
import { JournalService } from './service';
import { JournalStore, ShardDataLostError } from './storage';
import { Attr, MetricName } from '@tracechat/contracts';

export interface Journal {
  /** Opens (and recovers) the data directory, serves gRPC, registers with placement. */
  listen(): Promise<{ grpcPort: number; healthPort: number }>;
  /** Stops accepting calls, finishes in-flight appends, closes the store. */
  close(): Promise<void>;
}

export function buildJournal(config: JournalConfig, log: Logger): Journal {
  const server = internalServer({
    secret: config.serviceSecret,
    onRefused: (refusal) => log.warn({ refusal }, 'internal call refused'),
  });
  let store: JournalStore | undefined;
  let health: HealthServer | undefined;
  let registration: NodeRegistration | undefined;
  let metrics: NodeJS.Timeout | undefined;
  let nats: NatsConnection | undefined;
  const pool = createPool(config.databaseUrl, 'tracechat-journal');
  pool.on('error', (err) => log.error({ err }, 'postgres pool error'));
  const projectors = new Map<string, ShardProjector>();
  const writer = new ProjectionWriter(pool);

  const onInternalError = (err: unknown) => log.error({ err }, 'journal call failed');
  const wrap = unaryHandlers(toRpcError, onInternalError);

  const publishStats = () => {
    if (!store || store.closed) return;
    const stats = store.stats();
    const labels = { [Attr.JOURNAL_NODE_ID]: config.nodeId };
    setGauge(MetricName.JOURNAL_APPENDS, stats.appends, labels, 'Append calls since start');
    setGauge(MetricName.JOURNAL_RECORDS, stats.records, labels, 'Records appended since start');
    setGauge(
      MetricName.JOURNAL_FSYNCS,
      stats.fsyncs,
      labels,
      'fsyncs since start (group commit shares them)',
    );
    setGauge(MetricName.JOURNAL_SHARDS, store.listShards().length, labels, 'Shards on this node');
  };

  return {
    async listen() {
      const dataDir = resolve(config.dataDir);
      store = await JournalStore.open(dataDir, {
        segmentBytes: config.segmentBytes,
        groupCommitMaxWaitMs: config.groupCommitMaxWaitMs,
      });
      for (const recovered of store.recovery()) {
        if (
          recovered.truncatedBytes > 0 ||
          recovered.damaged.length > 0 ||
          recovered.rebuiltIndexes > 0
        ) {
          log.warn({ recovery: recovered }, 'shard recovered');
        }
      }
      nats = await openChatStream(config.natsUrl, `tracechat-${config.nodeId}`, {
        stream: config.natsStream,
        subjectPrefix: config.natsSubjectPrefix,
        ...config.natsStreamLimits,
      });
      const js = nats.jetstream();
      const opened0 = store;
      // Each shard this node owns has its projector here, beside its only writer (see
      // docs/architecture.md): it learns of new records without a network hop.
      const projectorFor = (shardId: string): ShardProjector => {
        let projector = projectors.get(shardId);
        if (!projector) {
          projector = new ShardProjector(shardId, {
            store: opened0,
            pool,
            writer,
            js,
            subjectPrefix: config.natsSubjectPrefix,
            log,
            batchRecords: config.projectionBatchRecords,
          });
          projectors.set(shardId, projector);
          projector.start();
        }
        return projector;
      };
      for (const shardId of store.listShards()) projectorFor(shardId);
      // A shard behind its projection lost its data (e.g. a wiped volume): refuse it rather than
      // start again at offset 0 and hand out seqs that history already has.
      const lost = new Set<string>();
      const guard = async (shardId: string) => {
        const { rows } = await pool.query<{ next_offset: string }>(
          'SELECT next_offset FROM projections WHERE shard_id = $1',
          [shardId],
        );
        const projected = Number(rows[0]?.next_offset ?? 0);
        const have = opened0.hasShard(shardId) ? opened0.info(shardId).nextOffset : 0;
        if (have < projected) {
          lost.add(shardId);
          const err = new ShardDataLostError(shardId, have, projected);
          log.error({ err, shard: shardId }, 'shard data lost; refusing the shard');
          throw err;
        }
      };
      const messages = new MessageLog(
        store,
        (shardId, offset, record) => projectorFor(shardId).offer(offset, record),
        guard,
        config.idempotencyWindowMs,
      );
      const service = new JournalService(store, messages, {
        maxRecords: config.readMaxRecords,
        maxBytes: config.readMaxBytes,
        onClamped: (limit, asked, max) => {
          countLimitClamped('tracechat.v1.JournalService', 'Read', limit);
          log.warn({ limit, asked, max }, 'read limit lowered to the node maximum');
        },
      });
      const handlers: JournalServiceHandlers = {
        AppendMessage: wrap((req) => service.appendMessage(req)),
        // appends of one batch to one shard share the group commit's fsync
        AppendMessages: batchHandler((req) => service.appendMessage(req), {
          mapError: toRpcError,
          onInternalError,
        }),
        Append: wrap((req) => service.append(req)),
        Read: wrap((req) => service.read(req)),
        ShardInfo: wrap((req) => service.shardInfo(req)),
      };
      server.addService(tracechatV1().JournalService.service, handlers);
      const grpcPort = await bindServer(server, config.grpcAddress);
      const advertised = config.advertiseAddress.replace(/:0$/, `:${grpcPort}`);
      registration = new NodeRegistration(
        config.placementAddress,
        config.nodeId,
        advertised,
        config.rpcDeadlineMs,
        log,
        new ServiceTokens({ service: 'journal', node: config.nodeId }, config.serviceSecret),
      );
      await registration.start(30_000);
      const opened = store;
      const reg = registration;
      const natsConn = nats;
      health = await startHealthServer(
        { host: config.healthHost, port: config.healthPort },
        {
          store: async () => {
            if (opened.closed) throw new Error('closed');
            const failed = [...opened.failedShards(), ...lost];
            if (failed.length > 0) throw new Error(`shards refusing appends: ${failed.join(', ')}`);
          },
          postgres: () => pool.query('SELECT 1'),
          nats: () => natsReady(natsConn),
          placement: async () => {
            if (!reg.isRegistered) throw new Error('not registered');
          },
        },
        {
          '/stats': () => ({ node: config.nodeId, shards: opened.listShards(), ...opened.stats() }),
        },
      );
      metrics = setInterval(publishStats, 2000);
      publishStats();
      log.info(
        { grpcPort, healthPort: health.port, node: config.nodeId, dataDir },
        'journal listening',
      );
      return { grpcPort, healthPort: health.port };
    },

    async close() {
      health?.markDraining();
      clearInterval(metrics);
      registration?.stop();
      await stopServer(server);
      await Promise.allSettled([...projectors.values()].map((p) => p.stop()));
      await writer.flushPublished().catch(() => undefined);
      await nats?.drain().catch(() => undefined);
      await store?.close();
      await pool.end().catch(() => undefined);
      await health?.close();
    },
  };
}
