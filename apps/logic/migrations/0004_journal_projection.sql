-- The journal is now the ordering authority: it assigns each message's seq per session,
-- contiguous from 1, and its projector (one per shard, in the journal node that owns the shard)
-- writes the rows of `messages` and moves `sessions.last_seq`. Rows written before keep their
-- seq (the record's offset + 1); the journal rebuilds its counters from the same records, so a
-- session's new seqs continue above its old ones (from the old highest seq + 1) and history
-- (`seq > after_seq ORDER BY seq`) stays in order. Old sessions may have holes below that point.
--
-- logic owns this schema; the journal's projector is the only writer of `messages` rows and of
-- `projections`, one row per shard: everything below next_offset is committed in `messages`
-- (in the same transaction as the rows), everything below published_offset is in JetStream.
CREATE TABLE projections (
  shard_id text PRIMARY KEY,
  next_offset bigint NOT NULL DEFAULT 0,
  published_offset bigint NOT NULL DEFAULT 0,
  CHECK (published_offset <= next_offset)
);
-- Shards whose records were written by the old path (logic stored and published them itself)
-- start at offset 0: the projector skips those records, so nothing is stored or pushed twice.
