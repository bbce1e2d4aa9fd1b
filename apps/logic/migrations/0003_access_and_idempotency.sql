-- Sessions get an owner and are private unless created public. Sessions from before this
-- migration had no access rules (anyone could join), so they become public with no owner.
ALTER TABLE sessions ADD COLUMN owner_id text;
ALTER TABLE sessions ADD COLUMN public boolean NOT NULL DEFAULT false;
UPDATE sessions SET public = true;

-- client_msg_id is an optional idempotency key scoped to (session, sender); before, it was the
-- frame id, required and scoped to the sender alone. Old rows keep theirs under the new scope.
ALTER TABLE messages ALTER COLUMN client_msg_id DROP NOT NULL;
ALTER TABLE messages DROP CONSTRAINT messages_sender_client_key;
ALTER TABLE messages
  ADD CONSTRAINT messages_session_sender_client_key UNIQUE (session_id, sender_id, client_msg_id);
