-- Journal nodes. A node is up while its last heartbeat is within the lease (NODE_LEASE_MS);
-- ids compare byte-wise (COLLATE "C") so "ties go to the lowest id" means the same everywhere.
CREATE TABLE placement_nodes (
  id text COLLATE "C" PRIMARY KEY,
  -- host:port of the node's JournalService, as last registered
  address text NOT NULL,
  -- latest RegisterNode
  registered_at timestamptz NOT NULL DEFAULT now(),
  -- latest RegisterNode or Heartbeat
  last_heartbeat timestamptz NOT NULL DEFAULT now()
);

-- Shards created so far (0 .. shard_count - 1). A shard keeps its node for good.
CREATE TABLE placement_shards (
  id integer PRIMARY KEY CHECK (id >= 0),
  node_id text COLLATE "C" NOT NULL REFERENCES placement_nodes (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX placement_shards_node_idx ON placement_shards (node_id);

-- The shard count the map was first used with: sessions map to hash mod shard_count, so a
-- different count would move them. One row.
CREATE TABLE placement_settings (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  shard_count integer NOT NULL CHECK (shard_count BETWEEN 1 AND 4096),
  created_at timestamptz NOT NULL DEFAULT now()
);
