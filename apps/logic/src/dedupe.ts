import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface DedupeResult {
  readonly messageId: string;
  readonly seq: number;
  readonly sentAtMs: number;
  /** SHA-256 of the text, so a reuse of the key with another text is told apart. */
  readonly textHash: string;
}

/** The hash a DedupeResult keeps of a message's text. */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * Fast duplicate detection by (session, sender, client_msg_id) in Redis. Postgres' unique key on
 * the same triple stays the source of truth, so a lost Redis entry never lets a duplicate through.
 */
export class Dedupe {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {}

  private key(sessionId: string, userId: string, clientMsgId: string): string {
    return `tracechat:dedupe:${sessionId}:${userId}:${clientMsgId}`;
  }

  /** The earlier result for this client id, if a send with it already completed. */
  async check(
    sessionId: string,
    userId: string,
    clientMsgId: string,
  ): Promise<DedupeResult | undefined> {
    const key = this.key(sessionId, userId, clientMsgId);
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

  async remember(
    sessionId: string,
    userId: string,
    clientMsgId: string,
    result: DedupeResult,
  ): Promise<void> {
    await this.redis.set(
      this.key(sessionId, userId, clientMsgId),
      JSON.stringify(result),
      'EX',
      this.ttlSeconds,
    );
  }
}
