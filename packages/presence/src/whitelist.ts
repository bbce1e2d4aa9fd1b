import type { Redis } from 'ioredis';
import { IdRules, isSessionId, isUserId } from '@tracechat/contracts';

export const WHITELIST_KINDS = ['users', 'sessions'] as const;
export type WhitelistKind = (typeof WHITELIST_KINDS)[number];

/** A sorted set per kind: id → when its entry expires (ms since the epoch). */
const key = (kind: WhitelistKind) => `tracechat:sampling:whitelist:${kind}:until`;

/** How long a whitelist entry lasts unless added again (SAMPLING_WHITELIST_TTL_SECONDS). */
export const DEFAULT_WHITELIST_TTL_SECONDS = 7 * 24 * 3600;

export class WhitelistEntryError extends Error {
  override readonly name = 'WhitelistEntryError';
  readonly code = 'INVALID_ENTRY';
}

/** Checks an entry before it is stored: a user id or a session id by their own rules. */
export function checkWhitelistEntry(
  kind: unknown,
  id: unknown,
): { kind: WhitelistKind; id: string } {
  if (typeof kind !== 'string' || !(WHITELIST_KINDS as readonly string[]).includes(kind)) {
    throw new WhitelistEntryError(`kind must be one of ${WHITELIST_KINDS.join(', ')}`);
  }
  if (kind === 'users' ? !isUserId(id) : !isSessionId(id)) {
    throw new WhitelistEntryError(
      `id must be ${kind === 'users' ? IdRules.user : IdRules.session}`,
    );
  }
  return { kind: kind as WhitelistKind, id: id as string };
}

/**
 * The runtime sampling whitelist, shared by every instance of every service through Redis.
 * Writers are the gateways' admin API; every service reads it periodically. An entry expires
 * `ttlSeconds` after it was last added, so a user whitelisted to debug a problem is not sampled
 * forever; each kind's key expires with its last entry.
 */
export class WhitelistStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds = DEFAULT_WHITELIST_TTL_SECONDS,
  ) {}

  async list(): Promise<{ users: string[]; sessions: string[] }> {
    const now = Date.now();
    const [users, sessions] = await Promise.all([
      this.redis.zrangebyscore(key('users'), now, '+inf'),
      this.redis.zrangebyscore(key('sessions'), now, '+inf'),
    ]);
    return { users: users.sort(), sessions: sessions.sort() };
  }

  /** Adds an entry, or renews it; false when it was there already. */
  async add(kind: WhitelistKind, id: string): Promise<boolean> {
    const now = Date.now();
    const ttlMs = this.ttlSeconds * 1000;
    const results = await this.redis
      .multi()
      .zremrangebyscore(key(kind), '-inf', now)
      .zadd(key(kind), now + ttlMs, id)
      // every entry expires by now + TTL: the newest one is the last to go
      .pexpire(key(kind), ttlMs)
      .exec();
    const [err, added] = results?.[1] ?? [new Error('whitelist update was discarded')];
    if (err) throw err;
    return added === 1;
  }

  /** Removes an entry; false when it was not there. */
  async remove(kind: WhitelistKind, id: string): Promise<boolean> {
    return (await this.redis.zrem(key(kind), id)) === 1;
  }
}
