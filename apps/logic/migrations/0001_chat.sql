CREATE TABLE sessions (
  id text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- highest seq handed out in this session
  last_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE members (
  session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  user_id text NOT NULL,
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, user_id)
);
CREATE INDEX members_user_idx ON members (user_id);

CREATE TABLE messages (
  id uuid PRIMARY KEY,
  session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  sender_id text NOT NULL,
  client_msg_id text NOT NULL,
  body text NOT NULL,
  sent_at timestamptz NOT NULL,
  CONSTRAINT messages_session_seq_key UNIQUE (session_id, seq),
  CONSTRAINT messages_sender_client_key UNIQUE (sender_id, client_msg_id)
);
