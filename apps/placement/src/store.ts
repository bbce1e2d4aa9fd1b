import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from '@tracechat/postgres';
import { PlacementError } from './errors';

/** A journal node as the shard map sees it. */
export interface NodeState {
  readonly nodeId: string;
  readonly address: string;
  /** Heartbeated within the lease. */
  readonly up: boolean;
  readonly registeredAtMs: number;
  readonly lastHeartbeatMs: number;
}

export interface NodeSummary extends NodeState {
  readonly shardCount: number;
}

export interface ShardRow {
  readonly shard: number;
  readonly nodeId: string;
  readonly createdAtMs: number;
}

export interface ShardPlacement extends ShardRow {
  readonly address: string;
  readonly up: boolean;
}

/** The pool, or a client holding a transaction. */
type Queryable = Pick<PoolClient, 'query'>;

interface NodeDbRow {
  id: string;
  address: string;
  up: boolean;
  registered_at: Date;
  last_heartbeat: Date;
}

// Liveness is judged by the database clock, the one that wrote last_heartbeat, so placement
// replicas with skewed clocks agree. $1 is the lease in milliseconds.
const UP = `(n.last_heartbeat > statement_timestamp() - $1::int * interval '1 millisecond')`;

const NODE_COLUMNS = `n.id, n.address, n.registered_at, n.last_heartbeat, ${UP} AS up`;

// Serializes shard creation across every placement process sharing the database.
const CREATE_LOCK = createHash('sha256')
  .update('tracechat.placement.create_shard')
  .digest()
  .readBigInt64BE(0)
  .toString();

function toNode(row: NodeDbRow): NodeState {
  return {
    nodeId: row.id,
    address: row.address,
    up: row.up,
    registeredAtMs: row.registered_at.getTime(),
    lastHeartbeatMs: row.last_heartbeat.getTime(),
  };
}

/** Reads of the shard map, on the pool or inside a shard-creation transaction. */
export class ShardMapQueries {
  constructor(
    protected readonly db: Queryable,
    protected readonly leaseMs: number,
  ) {}

  async shard(shard: number): Promise<ShardRow | undefined> {
    const { rows } = await this.db.query<{ id: number; node_id: string; created_at: Date }>(
      'SELECT id, node_id, created_at FROM placement_shards WHERE id = $1',
      [shard],
    );
    const row = rows[0];
    return row && { shard: row.id, nodeId: row.node_id, createdAtMs: row.created_at.getTime() };
  }

  async node(nodeId: string): Promise<NodeState | undefined> {
    const { rows } = await this.db.query<NodeDbRow>(
      `SELECT ${NODE_COLUMNS} FROM placement_nodes n WHERE n.id = $2`,
      [this.leaseMs, nodeId],
    );
    return rows[0] && toNode(rows[0]);
  }
}

/** The shard-creation transaction: the only writer of placement_shards. */
export class ShardCreation extends ShardMapQueries {
  /** The live node with the fewest shards, ties going to the lowest id; undefined if none is up. */
  async leastLoadedLiveNode(): Promise<NodeSummary | undefined> {
    const { rows } = await this.db.query<NodeDbRow & { shard_count: number }>(
      `SELECT ${NODE_COLUMNS}, count(s.id)::int AS shard_count
       FROM placement_nodes n LEFT JOIN placement_shards s ON s.node_id = n.id
       WHERE ${UP}
       GROUP BY n.id
       ORDER BY count(s.id), n.id
       LIMIT 1`,
      [this.leaseMs],
    );
    const row = rows[0];
    return row && { ...toNode(row), shardCount: row.shard_count };
  }

  async insertShard(shard: number, nodeId: string): Promise<ShardRow> {
    const { rows } = await this.db.query<{ created_at: Date }>(
      'INSERT INTO placement_shards (id, node_id) VALUES ($1, $2) RETURNING created_at',
      [shard, nodeId],
    );
    return { shard, nodeId, createdAtMs: rows[0]!.created_at.getTime() };
  }
}

/** Journal nodes and shards in Postgres (tables placement_nodes, placement_shards). */
export class PlacementStore extends ShardMapQueries {
  constructor(
    private readonly pool: Pool,
    leaseMs: number,
  ) {
    super(pool, leaseMs);
  }

  /**
   * Records the shard count on first use and checks it on every later start: sessions hash onto
   * it, so running with another count would move them. Throws SHARD_COUNT_MISMATCH.
   */
  async claimShardCount(shardCount: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO placement_settings (shard_count) VALUES ($1)
       ON CONFLICT (singleton) DO NOTHING`,
      [shardCount],
    );
    const { rows } = await this.pool.query<{ shard_count: number }>(
      'SELECT shard_count FROM placement_settings',
    );
    const stored = rows[0]!.shard_count;
    if (stored !== shardCount) {
      throw new PlacementError(
        'SHARD_COUNT_MISMATCH',
        `SHARD_COUNT is ${shardCount} but this database's shard map uses ${stored}; ` +
          'changing it would move sessions to other shards',
      );
    }
  }

  /**
   * Adds a node, or renews it at the same address, or moves it to a new address once its lease
   * has run out; its lease starts now. False (and nothing written) when the node is up at
   * another address. One statement, so two registrations racing for an id cannot both win.
   */
  async registerNode(nodeId: string, address: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO placement_nodes AS n (id, address) VALUES ($2, $3)
       ON CONFLICT (id) DO UPDATE
       SET address = EXCLUDED.address, registered_at = now(), last_heartbeat = now()
       WHERE n.address = EXCLUDED.address OR NOT ${UP}`,
      [this.leaseMs, nodeId, address],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Renews a node's lease; false when the node is unknown. */
  async heartbeat(nodeId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'UPDATE placement_nodes SET last_heartbeat = now() WHERE id = $1',
      [nodeId],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Every node with its shard count, by id. */
  async nodes(): Promise<NodeSummary[]> {
    const { rows } = await this.pool.query<NodeDbRow & { shard_count: number }>(
      `SELECT ${NODE_COLUMNS}, count(s.id)::int AS shard_count
       FROM placement_nodes n LEFT JOIN placement_shards s ON s.node_id = n.id
       GROUP BY n.id
       ORDER BY n.id`,
      [this.leaseMs],
    );
    return rows.map((row) => ({ ...toNode(row), shardCount: row.shard_count }));
  }

  /** Every created shard with its node, by shard id. */
  async shards(): Promise<ShardPlacement[]> {
    const { rows } = await this.pool.query<{
      id: number;
      node_id: string;
      created_at: Date;
      address: string;
      up: boolean;
    }>(
      `SELECT s.id, s.node_id, s.created_at, n.address, ${UP} AS up
       FROM placement_shards s JOIN placement_nodes n ON n.id = s.node_id
       ORDER BY s.id`,
      [this.leaseMs],
    );
    return rows.map((row) => ({
      shard: row.id,
      nodeId: row.node_id,
      createdAtMs: row.created_at.getTime(),
      address: row.address,
      up: row.up,
    }));
  }

  /**
   * Runs `fn` in a transaction holding the shard-creation lock, so creations from every
   * placement process happen one at a time: a shard is created once, and each choice of the
   * least-loaded node sees the shards created before it. Commits what `fn` wrote unless it throws.
   */
  async createExclusively<T>(fn: (tx: ShardCreation) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [CREATE_LOCK]);
      const result = await fn(new ShardCreation(client, this.leaseMs));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
