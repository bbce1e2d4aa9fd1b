import type { Pool, PoolClient } from '@tracechat/postgres';

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

/** The limits a join or an invite is checked against (docs/architecture.md, "Limits"). */
export interface Quotas {
  /** Sessions one user may create, ever (sessions are never deleted). */
  readonly maxSessionsPerUser: number;
  readonly maxMembersPerSession: number;
  /** Invites that add a member, per inviting user and clock hour. */
  readonly maxInvitesPerUserPerHour: number;
}

export const Quota = {
  SESSIONS_PER_USER: 'sessions_per_user',
  MEMBERS_PER_SESSION: 'members_per_session',
  INVITES_PER_USER_PER_HOUR: 'invites_per_user_per_hour',
} as const;
export type Quota = (typeof Quota)[keyof typeof Quota];

/** Why a join or an invite was refused: not allowed, or a quota reached. */
export type Refusal = 'forbidden' | Quota;

/** Ends a transaction early: rolled back, and the refusal is the call's answer. */
class Refused {
  constructor(readonly refusal: Refusal) {}
}

/** Sessions, members and message history in Postgres (the journal's projector writes the messages). */
export class ChatStore {
  constructor(
    private readonly pool: Pool,
    private readonly quotas: Quotas,
  ) {}

  /** Runs `fn` in a transaction; a thrown `Refused` rolls back and becomes the answer. */
  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T | Refusal> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (err instanceof Refused) return err.refusal;
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Joins a session: creates it (the caller its owner and first member, public or private as
   * asked) when it does not exist; adds the caller to a public one; admits the caller to a
   * private one only when already a member. Returns the session's last seq, or why not: a
   * private session, or a quota (sessions the caller created, members of the session) reached.
   * Quotas are counted on locked rows, so concurrent joins never pass one together.
   */
  async join(
    sessionId: string,
    userId: string,
    isPublic: boolean,
  ): Promise<{ lastSeq: number } | Refusal> {
    return this.transaction(async (client) => {
      const created = await client.query(
        `INSERT INTO sessions (id, owner_id, public, member_count) VALUES ($1, $2, $3, 1)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [sessionId, userId, isPublic],
      );
      if (created.rowCount) {
        const owned = await client.query(
          `INSERT INTO user_quotas (user_id, sessions_owned) VALUES ($1, 1)
           ON CONFLICT (user_id) DO UPDATE SET sessions_owned = user_quotas.sessions_owned + 1
           WHERE user_quotas.sessions_owned < $2
           RETURNING sessions_owned`,
          [userId, this.quotas.maxSessionsPerUser],
        );
        if (!owned.rowCount) throw new Refused(Quota.SESSIONS_PER_USER);
        await client.query('INSERT INTO members (session_id, user_id) VALUES ($1, $2)', [
          sessionId,
          userId,
        ]);
        return { lastSeq: 0 };
      }
      const { rows } = await client.query<{ last_seq: string; public: boolean; member: boolean }>(
        `SELECT last_seq, public,
                EXISTS (SELECT 1 FROM members WHERE session_id = $1 AND user_id = $2) AS member
         FROM sessions WHERE id = $1`,
        [sessionId, userId],
      );
      const session = rows[0]!;
      if (session.member) return { lastSeq: Number(session.last_seq) };
      if (!session.public) throw new Refused('forbidden');
      const added = await this.addMember(client, sessionId, userId);
      return { lastSeq: added ?? Number(session.last_seq) };
    });
  }

  /**
   * Adds a member and counts it against the session's limit; resolves with the session's last
   * seq, or undefined when the user was a member already. Throws `Refused` when the session is full.
   */
  private async addMember(
    client: PoolClient,
    sessionId: string,
    userId: string,
  ): Promise<number | undefined> {
    const inserted = await client.query(
      `INSERT INTO members (session_id, user_id) VALUES ($1, $2)
       ON CONFLICT DO NOTHING RETURNING user_id`,
      [sessionId, userId],
    );
    if (!inserted.rowCount) return undefined;
    const { rows } = await client.query<{ last_seq: string }>(
      `UPDATE sessions SET member_count = member_count + 1
       WHERE id = $1 AND member_count < $2 RETURNING last_seq`,
      [sessionId, this.quotas.maxMembersPerSession],
    );
    if (rows.length === 0) throw new Refused(Quota.MEMBERS_PER_SESSION);
    return Number(rows[0]!.last_seq);
  }

  /**
   * Adds `inviteeId` as a member when `userId` is one. An invite that adds a member counts
   * against the inviter's hourly invites and the session's members; inviting a member again is
   * free. Returns true, or why not.
   */
  async invite(sessionId: string, userId: string, inviteeId: string): Promise<true | Refusal> {
    return this.transaction(async (client) => {
      const inviter = await client.query(
        'SELECT 1 FROM members WHERE session_id = $1 AND user_id = $2',
        [sessionId, userId],
      );
      if (!inviter.rowCount) throw new Refused('forbidden');
      const inserted = await client.query(
        `INSERT INTO members (session_id, user_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING RETURNING user_id`,
        [sessionId, inviteeId],
      );
      if (!inserted.rowCount) return true;
      const counted = await client.query(
        `INSERT INTO user_quotas (user_id, invite_window, invites_in_window)
         VALUES ($1, date_trunc('hour', now()), 1)
         ON CONFLICT (user_id) DO UPDATE SET
           invites_in_window = CASE WHEN user_quotas.invite_window = EXCLUDED.invite_window
                                    THEN user_quotas.invites_in_window + 1 ELSE 1 END,
           invite_window = EXCLUDED.invite_window
         WHERE user_quotas.invite_window <> EXCLUDED.invite_window
            OR user_quotas.invites_in_window < $2
         RETURNING invites_in_window`,
        [userId, this.quotas.maxInvitesPerUserPerHour],
      );
      if (!counted.rowCount) throw new Refused(Quota.INVITES_PER_USER_PER_HOUR);
      const room = await client.query(
        `UPDATE sessions SET member_count = member_count + 1
         WHERE id = $1 AND member_count < $2 RETURNING id`,
        [sessionId, this.quotas.maxMembersPerSession],
      );
      if (!room.rowCount) throw new Refused(Quota.MEMBERS_PER_SESSION);
      return true as const;
    });
  }

  /** Removes a membership; false when the user was not a member. */
  async leave(sessionId: string, userId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `WITH gone AS (
         DELETE FROM members WHERE session_id = $1 AND user_id = $2 RETURNING session_id
       )
       UPDATE sessions SET member_count = GREATEST(member_count - 1, 0)
       WHERE id IN (SELECT session_id FROM gone)`,
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

  /** One message by id; undefined when there is none. */
  async message(messageId: string): Promise<StoredMessage | undefined> {
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT id, session_id, seq, sender_id, body, sent_at, trace_id FROM messages WHERE id = $1`,
      [messageId],
    );
    return rows[0] && toMessage(rows[0]);
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
