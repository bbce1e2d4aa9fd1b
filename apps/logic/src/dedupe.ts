import type { Redis } from 'ioredis';

export interface DedupeResult {
  readonly messageId: string;
  readonly seq: number;
  readonly sentAtMs: number;
}

/**
 * Fast duplicate detection by (user, client frame id) in Redis. Postgres' unique key on the
 * same pair stays the source of truth, so a lost Redis entry never lets a duplicate through.
 */
export class Dedupe {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {}

  private key(userId: string, clientMsgId: string): string {
    return `tracechat:dedupe:${userId}:${clientMsgId}`;
  }

  /** The earlier result for this client id, if a send with it already completed. */
  async check(userId: string, clientMsgId: string): Promise<DedupeResult | undefined> {
    const key = this.key(userId, clientMsgId);
    // Claim the id; if it was claimed already, an earlier send has (or is writing) a result.
    const claimed = await this.redis.set(key, '', 'EX', this.ttlSeconds, 'NX');
    if (claimed === 'OK') return undefined;
    const value = await this.redis.get(key);
    if (!value) return undefined;
    try {
      return JSON.parse(value) as DedupeResult;
    } catch {
      return undefined;
    }
  }

  async remember(userId: string, clientMsgId: string, result: DedupeResult): Promise<void> {
    await this.redis.set(
      this.key(userId, clientMsgId),
      JSON.stringify(result),
      'EX',
      this.ttlSeconds,
    );
  }
}
