import type { Pool } from '@tracechat/postgres';

export interface StoredMessage {
  readonly messageId: string;
  readonly sessionId: string;
  readonly seq: number;
  readonly senderId: string;
  readonly text: string;
  readonly sentAtMs: number;
  /** The trace of the message's send; empty for rows from before traces were stored. */
  readonly traceId: string;
}

interface MessageRow {
  id: string;
  session_id: string;
  seq: string;
  sender_id: string;
  body: string;
  sent_at: Date;
  trace_id: string | null;
}

function toMessage(row: MessageRow): StoredMessage {
  return {
    messageId: row.id,
    sessionId: row.session_id,
    seq: Number(row.seq),
    senderId: row.sender_id,
    text: row.body,
    sentAtMs: row.sent_at.getTime(),
    traceId: row.trace_id ?? '',
  };
}

/** Sessions, members and message history in Postgres (the journal's projector writes the messages). */
export class ChatStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Joins a session: creates it (the caller its owner and first member, public or private as
   * asked) when it does not exist; adds the caller to a public one; admits the caller to a
   * private one only when already a member. Returns the session's last seq, or `forbidden`.
   */
  async join(
    sessionId: string,
    userId: string,
    isPublic: boolean,
  ): Promise<{ lastSeq: number } | 'forbidden'> {
    const { rows } = await this.pool.query<{ last_seq: string; admitted: boolean }>(
      `WITH created AS (
         INSERT INTO sessions (id, owner_id, public) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO NOTHING
         RETURNING id, last_seq, public
       ), s AS (
         SELECT id, last_seq, public FROM created
         UNION ALL
         SELECT id, last_seq, public FROM sessions WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM created)
       ), admitted AS (
         SELECT s.id, s.last_seq,
                (s.public OR EXISTS (SELECT 1 FROM created)
                 OR EXISTS (SELECT 1 FROM members WHERE session_id = $1 AND user_id = $2)) AS ok
         FROM s
       ), m AS (
         INSERT INTO members (session_id, user_id) SELECT id, $2 FROM admitted WHERE ok
         ON CONFLICT DO NOTHING
       )
       SELECT last_seq, ok AS admitted FROM admitted`,
      [sessionId, userId, isPublic],
    );
    const row = rows[0]!;
    return row.admitted ? { lastSeq: Number(row.last_seq) } : 'forbidden';
  }

  /** Adds `inviteeId` as a member when `userId` is one; false when `userId` is not a member. */
  async invite(sessionId: string, userId: string, inviteeId: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ ok: boolean }>(
      `WITH inviter AS (
         SELECT 1 FROM members WHERE session_id = $1 AND user_id = $2
       ), ins AS (
         INSERT INTO members (session_id, user_id) SELECT $1, $3 FROM inviter
         ON CONFLICT DO NOTHING
       )
       SELECT EXISTS (SELECT 1 FROM inviter) AS ok`,
      [sessionId, userId, inviteeId],
    );
    return rows[0]!.ok;
  }

  /** Removes a membership; false when the user was not a member. */
  async leave(sessionId: string, userId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM members WHERE session_id = $1 AND user_id = $2',
      [sessionId, userId],
    );
    return (rowCount ?? 0) > 0;
  }

  async isMember(sessionId: string, userId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'SELECT 1 FROM members WHERE session_id = $1 AND user_id = $2',
      [sessionId, userId],
    );
    return (rowCount ?? 0) > 0;
  }

  async members(sessionId: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ user_id: string }>(
      'SELECT user_id FROM members WHERE session_id = $1',
      [sessionId],
    );
    return rows.map((r) => r.user_id);
  }

  /** Messages with seq > afterSeq, oldest first. */
  async history(sessionId: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT id, session_id, seq, sender_id, body, sent_at, trace_id FROM messages
       WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [sessionId, afterSeq, limit],
    );
    return rows.map(toMessage);
  }
}
