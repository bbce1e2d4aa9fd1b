import type { Redis } from 'ioredis';

/**
 * The Redis pub/sub channel on which logic announces that a session's members changed (join,
 * invite, leave); the message is the session id. Channels are not covered by ioredis's
 * `keyPrefix`, so the deployment's key prefix is put in front here.
 */
export function membershipChannel(keyPrefix: string): string {
  return `${keyPrefix}tracechat:members-changed`;
}

/** Tells every member cache that `sessionId`'s members changed. */
export async function announceMembershipChange(
  redis: Redis,
  keyPrefix: string,
  sessionId: string,
): Promise<void> {
  await redis.publish(membershipChannel(keyPrefix), sessionId);
}

interface Entry {
  readonly members: readonly string[];
  readonly expiresAt: number;
}

/**
 * Members of sessions, cached in process and dropped when logic announces a change (see
 * `announceMembershipChange`), so routing a message costs no round trip while the members stay
 * the same. A lookup that started before a change is not cached (each session has a generation
 * that a change bumps), entries also expire after `ttlMs` in case an announcement was missed,
 * and `clear()` drops everything (on a lost subscription). Nothing is cached unless `following`.
 * Memory is bounded twice: at most `maxEntries` sessions and `maxMembers` members across them,
 * the least recently used dropped first; a session larger than `maxMembers` is never cached.
 */
export class MemberCache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  private epoch = 0;
  private members = 0;
  /** Whether announcements are being received; without them nothing is cached. */
  following = false;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
    private readonly maxMembers = 1_000_000,
  ) {}

  private drop(sessionId: string): void {
    const entry = this.entries.get(sessionId);
    if (!entry) return;
    this.entries.delete(sessionId);
    this.members -= entry.members.length;
  }

  async get(
    sessionId: string,
    load: (sessionId: string) => Promise<readonly string[]>,
  ): Promise<{ members: readonly string[]; cached: boolean }> {
    const entry = this.entries.get(sessionId);
    if (entry && entry.expiresAt > Date.now()) {
      // most recently used last: eviction takes the first
      this.entries.delete(sessionId);
      this.entries.set(sessionId, entry);
      return { members: entry.members, cached: true };
    }
    const generation = this.generations.get(sessionId) ?? 0;
    const epoch = this.epoch;
    const members = await load(sessionId);
    if (
      this.following &&
      epoch === this.epoch &&
      generation === (this.generations.get(sessionId) ?? 0) &&
      members.length <= this.maxMembers
    ) {
      this.drop(sessionId);
      while (
        this.entries.size > 0 &&
        (this.entries.size >= this.maxEntries || this.members + members.length > this.maxMembers)
      ) {
        this.drop(this.entries.keys().next().value!);
      }
      this.entries.set(sessionId, { members, expiresAt: Date.now() + this.ttlMs });
      this.members += members.length;
    }
    return { members, cached: false };
  }

  invalidate(sessionId: string): void {
    this.drop(sessionId);
    this.generations.set(sessionId, (this.generations.get(sessionId) ?? 0) + 1);
    if (this.generations.size > this.maxEntries) {
      // old generations matter only to lookups in flight; a new epoch covers them all
      this.generations.clear();
      this.epoch++;
    }
  }

  clear(): void {
    this.entries.clear();
    this.members = 0;
    this.generations.clear();
    this.epoch++;
  }

  /** Sessions cached. */
  get size(): number {
    return this.entries.size;
  }

  /** Members cached across every session. */
  get memberCount(): number {
    return this.members;
  }
}

/**
 * Keeps `cache` in step with logic's announcements over a subscriber connection of its own
 * (a subscribed Redis connection can do nothing else). Until the subscription is in place, and
 * after the connection is lost, the cache is emptied so nothing stale is served.
 */
export async function followMembershipChanges(
  subscriber: Redis,
  keyPrefix: string,
  cache: MemberCache,
): Promise<void> {
  const channel = membershipChannel(keyPrefix);
  subscriber.on('message', (from: string, sessionId: string) => {
    if (from === channel) cache.invalidate(sessionId);
  });
  // ioredis resubscribes after a reconnect; announcements in between are lost, so start afresh
  subscriber.on('ready', () => {
    cache.clear();
    cache.following = true;
  });
  subscriber.on('close', () => {
    cache.following = false;
    cache.clear();
  });
  await subscriber.subscribe(channel);
  cache.clear();
  cache.following = true;
}
