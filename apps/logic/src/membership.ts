import type { Redis } from 'ioredis';
import { withSpan } from '@tracechat/telemetry';
import type { ChatStore } from './store';
import { Attr, SpanName } from '@tracechat/contracts';

/** Membership checks: a Redis cache in front of Postgres, updated on join and leave. */
export class Membership {
  constructor(
    private readonly redis: Redis,
    private readonly store: ChatStore,
    private readonly ttlSeconds: number,
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

  async remember(sessionId: string, userId: string, member: boolean): Promise<void> {
    await this.redis.set(this.key(sessionId, userId), member ? '1' : '0', 'EX', this.ttlSeconds);
  }
}
