import type { Redis } from 'ioredis';
import { announceMembershipChange } from '@tracechat/presence';
import { withSpan } from '@tracechat/telemetry';
import type { ChatStore } from './store';
import { Attr, SpanName } from '@tracechat/contracts';

/**
 * Membership checks: a Redis cache in front of Postgres, updated on join, invite and leave, each
 * of which is also announced to the member caches of routing (task).
 */
export class Membership {
  constructor(
    private readonly redis: Redis,
    private readonly store: ChatStore,
    private readonly ttlSeconds: number,
    /** The deployment's Redis key prefix, which names the announcement channel too. */
    private readonly keyPrefix = '',
  ) {}

  private key(sessionId: string, userId: string): string {
    return `tracechat:member:${sessionId}:${userId}`;
  }

  /** True when the user is a member; the span says whether the cache answered. */
  isMember(sessionId: string, userId: string): Promise<boolean> {
    return withSpan(
      SpanName.LOGIC_AUTH_AUTHORIZE,
      { attributes: { [Attr.SESSION_ID]: sessionId, [Attr.USER_ID]: userId } },
      async (span) => {
        const cached = await this.redis.get(this.key(sessionId, userId));
        if (cached !== null) {
          span.setAttribute(Attr.CACHE_HIT, true);
          return cached === '1';
        }
        span.setAttribute(Attr.CACHE_HIT, false);
        const member = await this.store.isMember(sessionId, userId);
        await this.redis.set(
          this.key(sessionId, userId),
          member ? '1' : '0',
          'EX',
          this.ttlSeconds,
        );
        return member;
      },
    );
  }

  /** Records a change of membership (after it is stored) and announces it before answering. */
  async remember(sessionId: string, userId: string, member: boolean): Promise<void> {
    await Promise.all([
      this.redis.set(this.key(sessionId, userId), member ? '1' : '0', 'EX', this.ttlSeconds),
      announceMembershipChange(this.redis, this.keyPrefix, sessionId),
    ]);
  }
}
