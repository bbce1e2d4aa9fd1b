import { createPool } from '@tracechat/postgres';
import type { Pool } from '@tracechat/postgres';
import {
  RefusalReason,
  Status,
  bindServer,
  callerIdentity,
  countRefusal,
  internalServer,
  stopServer,
  tracechatV1,
  unaryHandlers,
} from '@tracechat/protos';
import type { PlacementServiceHandlers, ServiceIdentity } from '@tracechat/protos';
import { startHealthServer } from '@tracechat/runtime';
import type { HealthServer } from '@tracechat/runtime';
import type { Logger } from '@tracechat/telemetry';
import type { PlacementConfig } from './config';
import { PlacementError, toRpcError } from './errors';
import { PlacementService } from './service';
import { PlacementStore } from './store';

export interface Placement {
  /**
   * Checks the database's shard count against the config, then serves gRPC; resolves with the
   * bound ports. Rejects with SHARD_COUNT_MISMATCH when they differ.
   */
  listen(): Promise<{ grpcPort: number; healthPort: number }>;
  /** Stops accepting calls, drains in-flight ones, closes the pool. */
  close(): Promise<void>;
}

/** Builds the placement service on a migrated database; nothing connects until `listen`. */
export function buildPlacement(config: PlacementConfig, log: Logger): Placement {
  const pool: Pool = createPool(config.databaseUrl, 'tracechat-placement');
  let health: HealthServer | undefined;
  const server = internalServer({
    secret: config.serviceSecret,
    onRefused: (refusal) => log.warn({ refusal }, 'internal call refused'),
  });
  pool.on('error', (err) => log.error({ err }, 'postgres pool error'));

  const wrap = unaryHandlers(toRpcError, (err) => log.error({ err }, 'placement call failed'));
  /** A registration or heartbeat for a node the caller is not: counted and logged, then refused. */
  const guarded = <Req, Res>(
    method: string,
    fn: (req: Req, caller: ServiceIdentity | undefined) => Promise<Res>,
  ) =>
    wrap<Req, Res>(async (req, call) => {
      try {
        return await fn(req, callerIdentity(call));
      } catch (err) {
        if (err instanceof PlacementError && err.code === 'PERMISSION_DENIED') {
          const refusal = {
            code: Status.PERMISSION_DENIED,
            reason: RefusalReason.NODE_MISMATCH,
            service: 'tracechat.v1.PlacementService',
            method,
          } as const;
          countRefusal(refusal);
          log.warn({ refusal: { ...refusal, peer: call.getPeer() }, err }, 'internal call refused');
        } else if (err instanceof PlacementError && err.code === 'NODE_ID_TAKEN') {
          log.warn({ peer: call.getPeer(), err }, 'registration refused: the node is up elsewhere');
        }
        throw err;
      }
    });

  return {
    async listen() {
      const store = new PlacementStore(pool, config.nodeLeaseMs);
      await store.claimShardCount(config.shardCount);
      const placement = new PlacementService({
        store,
        shardCount: config.shardCount,
        nodeLeaseMs: config.nodeLeaseMs,
      });
      const handlers: PlacementServiceHandlers = {
        RegisterNode: guarded('RegisterNode', (req, caller) => placement.registerNode(req, caller)),
        Heartbeat: guarded('Heartbeat', (req, caller) => placement.heartbeat(req, caller)),
        LookupShard: wrap((req) => placement.lookupShard(req)),
        ListShards: wrap(() => placement.listShards()),
        ListNodes: wrap(() => placement.listNodes()),
      };
      server.addService(tracechatV1().PlacementService.service, handlers);
      const grpcPort = await bindServer(server, config.grpcAddress);
      health = await startHealthServer(
        { host: config.healthHost, port: config.healthPort },
        { postgres: () => pool.query('SELECT 1') },
      );
      log.info(
        { grpcPort, healthPort: health.port, shardCount: config.shardCount },
        'placement listening',
      );
      return { grpcPort, healthPort: health.port };
    },

    async close() {
      health?.markDraining();
      await stopServer(server);
      await pool.end().catch(() => undefined);
      await health?.close();
    },
  };
}
