import type { Redis } from 'ioredis';
import { IdRules, isSessionId, isUserId } from '@tracechat/contracts';

export const WHITELIST_KINDS = ['users', 'sessions'] as const;
export type WhitelistKind = (typeof WHITELIST_KINDS)[number];

const key = (kind: WhitelistKind) => `tracechat:sampling:whitelist:${kind}`;

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
 * Writers are the gateways' admin API; every service reads it periodically.
 */
export class WhitelistStore {
  constructor(private readonly redis: Redis) {}

  async list(): Promise<{ users: string[]; sessions: string[] }> {
    const [users, sessions] = await Promise.all([
      this.redis.smembers(key('users')),
      this.redis.smembers(key('sessions')),
    ]);
    return { users: users.sort(), sessions: sessions.sort() };
  }

  /** Adds an entry; false when it was there already. */
  async add(kind: WhitelistKind, id: string): Promise<boolean> {
    return (await this.redis.sadd(key(kind), id)) === 1;
  }

  /** Removes an entry; false when it was not there. */
  async remove(kind: WhitelistKind, id: string): Promise<boolean> {
    return (await this.redis.srem(key(kind), id)) === 1;
  }
}
