-- seq is now the message record's offset in its journal shard; the shard is kept beside it so a
-- row can be matched with its record on replay.
ALTER TABLE messages ADD COLUMN shard_id text;
