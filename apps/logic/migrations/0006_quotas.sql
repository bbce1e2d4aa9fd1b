-- Quotas (docs/architecture.md, "Limits"). Each session counts its members, and each user the
-- sessions they created and their invites of the current hour, so a join or an invite checks its
-- limit by updating one row: the row lock makes concurrent joins and invites take their turn, and
-- they can never pass a limit together. A user's row exists once they create a session or invite.
ALTER TABLE sessions ADD COLUMN member_count integer NOT NULL DEFAULT 0;
UPDATE sessions s SET member_count = (SELECT count(*) FROM members m WHERE m.session_id = s.id);

CREATE TABLE user_quotas (
  user_id text PRIMARY KEY,
  sessions_owned integer NOT NULL DEFAULT 0,
  -- the hour the invite count is for (fixed windows: date_trunc('hour', now()))
  invite_window timestamptz NOT NULL DEFAULT 'epoch',
  invites_in_window integer NOT NULL DEFAULT 0
);
INSERT INTO user_quotas (user_id, sessions_owned)
  SELECT owner_id, count(*) FROM sessions WHERE owner_id IS NOT NULL GROUP BY owner_id;
