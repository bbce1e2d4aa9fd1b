import { NodeStatus, describeIdentity } from '@tracechat/protos';
import type {
  HeartbeatRequest__Output,
  HeartbeatResponse,
  ListNodesResponse,
  ListShardsResponse,
  LookupShardRequest__Output,
  LookupShardResponse,
  RegisterNodeRequest__Output,
  RegisterNodeResponse,
  ServiceIdentity,
} from '@tracechat/protos';
import { withSpan } from '@tracechat/telemetry';
import type { Attributes, Span } from '@tracechat/telemetry';
import { PlacementError } from './errors';
import { shardOf } from './shard-key';
import type { NodeState, PlacementStore, ShardMapQueries } from './store';
import { checkAddress, checkNodeId, checkSessionId } from './validate';
import { Attr, SpanName } from '@tracechat/contracts';

export interface PlacementServiceDeps {
  readonly store: PlacementStore;
  readonly shardCount: number;
  readonly nodeLeaseMs: number;
}

const DB = { [Attr.DB_SYSTEM_NAME]: 'postgresql' } as const;

function lookupResponse(shardId: string, node: NodeState, created: boolean): LookupShardResponse {
  return { shardId, nodeId: node.nodeId, nodeAddress: node.address, created, nodeUp: node.up };
}

/** Throws PERMISSION_DENIED unless `caller` is the journal node `nodeId`. */
function assertNode(caller: ServiceIdentity | undefined, nodeId: string): void {
  if (caller?.service !== 'journal' || caller.node !== nodeId) {
    throw new PlacementError(
      'PERMISSION_DENIED',
      `${describeIdentity(caller)} may not act for journal node ${nodeId}`,
    );
  }
}

/** The shard map's use cases, independent of gRPC. */
export class PlacementService {
  constructor(private readonly deps: PlacementServiceDeps) {}

  /**
   * Registers a journal node at its address, or moves it there once its lease has run out.
   * Only the node itself may (the caller's identity is `journal` with this node id:
   * PERMISSION_DENIED otherwise), and a node id whose lease is live at another address is
   * refused (NODE_ID_TAKEN): a second process cannot take over a node that is up.
   */
  async registerNode(
    req: RegisterNodeRequest__Output,
    caller: ServiceIdentity | undefined,
  ): Promise<RegisterNodeResponse> {
    const nodeId = checkNodeId(req.nodeId);
    const address = checkAddress(req.address);
    assertNode(caller, nodeId);
    if (!(await this.deps.store.registerNode(nodeId, address))) {
      throw new PlacementError(
        'NODE_ID_TAKEN',
        `node ${nodeId} is up at another address; it may register elsewhere once its lease runs out`,
      );
    }
    return { leaseMs: this.deps.nodeLeaseMs };
  }

  /** Renews a node's lease; only the node itself may (PERMISSION_DENIED otherwise). */
  async heartbeat(
    req: HeartbeatRequest__Output,
    caller: ServiceIdentity | undefined,
  ): Promise<HeartbeatResponse> {
    const nodeId = checkNodeId(req.nodeId);
    assertNode(caller, nodeId);
    if (!(await this.deps.store.heartbeat(nodeId))) {
      throw new PlacementError('NOT_FOUND', `node ${nodeId} is not registered`);
    }
    return {};
  }

  /**
   * The session's shard and its node, creating the shard on first use. A shard whose node is
   * down is still returned (with nodeUp false); UNAVAILABLE only when a new shard has no live
   * node to go to.
   */
  async lookupShard(req: LookupShardRequest__Output): Promise<LookupShardResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const shard = shardOf(sessionId, this.deps.shardCount);
    const shardId = String(shard);
    const attributes = { [Attr.SESSION_ID]: sessionId, [Attr.SHARD_ID]: shardId };
    const { store } = this.deps;

    const existing = await withSpan(
      SpanName.PLACEMENT_METADATA_QUERY,
      {
        attributes: {
          ...attributes,
          ...DB,
          [Attr.DB_COLLECTION_NAME]: 'placement_shards',
          [Attr.DB_OPERATION_NAME]: 'SELECT',
        },
      },
      async (span) => {
        const row = await store.shard(shard);
        span.setAttribute(Attr.DB_ROWS, row ? 1 : 0);
        if (row) span.setAttribute(Attr.JOURNAL_NODE_ID, row.nodeId);
        return row;
      },
    );
    if (existing) {
      const node = await this.route(attributes, (span) =>
        this.resolveNode(store, existing.nodeId, shardId, span),
      );
      return lookupResponse(shardId, node, false);
    }

    return store.createExclusively(async (tx) => {
      const { node, fresh } = await this.route(attributes, async (span) => {
        // Another caller may have created it while this one waited for the lock.
        const raced = await tx.shard(shard);
        if (raced) {
          return { node: await this.resolveNode(tx, raced.nodeId, shardId, span), fresh: false };
        }
        const chosen = await tx.leastLoadedLiveNode();
        if (!chosen) {
          throw new PlacementError('UNAVAILABLE', `no journal node is up to take shard ${shardId}`);
        }
        span.setAttributes({ [Attr.JOURNAL_NODE_ID]: chosen.nodeId, [Attr.JOURNAL_NODE_UP]: true });
        return { node: chosen, fresh: true };
      });
      if (!fresh) return lookupResponse(shardId, node, false);
      await withSpan(
        SpanName.PLACEMENT_SHARD_CREATE,
        {
          attributes: {
            ...attributes,
            ...DB,
            [Attr.JOURNAL_NODE_ID]: node.nodeId,
            [Attr.DB_COLLECTION_NAME]: 'placement_shards',
            [Attr.DB_OPERATION_NAME]: 'INSERT',
          },
        },
        () => tx.insertShard(shard, node.nodeId),
      );
      return lookupResponse(shardId, node, true);
    });
  }

  async listShards(): Promise<ListShardsResponse> {
    const shards = await this.deps.store.shards();
    return {
      shardCount: this.deps.shardCount,
      shards: shards.map((s) => ({
        shardId: String(s.shard),
        nodeId: s.nodeId,
        nodeAddress: s.address,
        nodeUp: s.up,
        createdAtMs: s.createdAtMs,
      })),
    };
  }

  async listNodes(): Promise<ListNodesResponse> {
    const nodes = await this.deps.store.nodes();
    return {
      nodes: nodes.map((n) => ({
        nodeId: n.nodeId,
        address: n.address,
        status: n.up ? NodeStatus.NODE_STATUS_UP : NodeStatus.NODE_STATUS_DOWN,
        lastHeartbeatMs: n.lastHeartbeatMs,
        registeredAtMs: n.registeredAtMs,
        shardCount: n.shardCount,
      })),
    };
  }

  private route<T>(attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
    return withSpan(
      SpanName.PLACEMENT_CLUSTER_ROUTE,
      { attributes: { ...attributes, ...DB, [Attr.DB_COLLECTION_NAME]: 'placement_nodes' } },
      fn,
    );
  }

  private async resolveNode(
    queries: ShardMapQueries,
    nodeId: string,
    shardId: string,
    span: Span,
  ): Promise<NodeState> {
    const node = await queries.node(nodeId);
    // placement_shards.node_id references placement_nodes, and nodes are never deleted.
    if (!node) throw new Error(`shard ${shardId} is assigned to unknown node ${nodeId}`);
    span.setAttributes({ [Attr.JOURNAL_NODE_ID]: node.nodeId, [Attr.JOURNAL_NODE_UP]: node.up });
    return node;
  }
}
