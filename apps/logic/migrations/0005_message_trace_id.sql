-- History entries carry the trace of their send (`trace_id`), taken by the projector from the
-- trace context stored in each journal record. Rows from before have none (history shows "").
ALTER TABLE messages ADD COLUMN trace_id text;
