import type { Redis } from 'ioredis';
import { MemberCache, announceMembershipChange } from '@tracechat/presence';
import { withSpan } from '@tracechat/telemetry';
import type { ChatStore } from './store';
import { Attr, SpanName } from '@tracechat/contracts';

/**
 * Who is in a session: the members table in Postgres, with each session's members cached in
 * process. A change (join, invite, leave) drops the session here at once and is announced to
 * every other cache (other logic instances, task), which drop it when the announcement arrives;
 * `followMembershipChanges` keeps `cache` in step with them.
 */
export class Membership {
  readonly cache: MemberCache;

  constructor(
    private readonly redis: Redis,
    private readonly store: ChatStore,
    ttlSeconds: number,
    /** The deployment's Redis key prefix, which names the announcement channel too. */
    private readonly keyPrefix = '',
    bounds: { maxSessions?: number; maxMembers?: number } = {},
  ) {
    this.cache = new MemberCache(ttlSeconds * 1000, bounds.maxSessions, bounds.maxMembers);
  }

  /** The session's members (empty when it does not exist). */
  async members(sessionId: string): Promise<{ members: readonly string[]; cached: boolean }> {
    return this.cache.get(sessionId, (id) => this.store.members(id));
  }

  /** True when the user is a member; the span says whether the cache answered. */
  isMember(sessionId: string, userId: string): Promise<boolean> {
    return withSpan(
      SpanName.LOGIC_AUTH_AUTHORIZE,
      { attributes: { [Attr.SESSION_ID]: sessionId, [Attr.USER_ID]: userId } },
      async (span) => {
        const { members, cached } = await this.members(sessionId);
        span.setAttribute(Attr.CACHE_HIT, cached);
        return members.includes(userId);
      },
    );
  }

  /** Records a change of membership (after it is stored) and announces it before answering. */
  async remember(sessionId: string): Promise<void> {
    this.cache.invalidate(sessionId);
    await announceMembershipChange(this.redis, this.keyPrefix, sessionId);
  }
}
