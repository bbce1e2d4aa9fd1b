import type { Redis } from 'ioredis';

const userKey = (userId: string) => `tracechat:presence:${userId}`;
const gatewayKey = (gatewayId: string) => `tracechat:gateway:${gatewayId}`;

/** For each key (a user's sorted set), its members scored at or after ARGV[1] (now). */
const LIVE_GATEWAYS = `
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('ZRANGEBYSCORE', key, ARGV[1], '+inf')
end
return out`;

/**
 * Presence in Redis. Each user has a sorted set of the gateways they are connected to, scored
 * by the time the entry expires; gateways refresh their users on every heartbeat, so a gateway
 * that dies drops out within one TTL without anyone cleaning up after it.
 */
export class Presence {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {}

  /** Marks users online on a gateway until now + TTL (also the heartbeat). */
  async online(gatewayId: string, userIds: Iterable<string>): Promise<void> {
    const expiresAt = Date.now() + this.ttlSeconds * 1000;
    const pipeline = this.redis.pipeline();
    let count = 0;
    const now = Date.now();
    for (const userId of userIds) {
      // entries of gateways that stopped refreshing them (gone) are dropped here
      pipeline.zremrangebyscore(userKey(userId), '-inf', now);
      pipeline.zadd(userKey(userId), expiresAt, gatewayId);
      pipeline.pexpire(userKey(userId), this.ttlSeconds * 1000 * 2);
      count++;
    }
    if (count > 0) await pipeline.exec();
  }

  async offline(gatewayId: string, userIds: Iterable<string>): Promise<void> {
    const pipeline = this.redis.pipeline();
    let count = 0;
    for (const userId of userIds) {
      pipeline.zrem(userKey(userId), gatewayId);
      count++;
    }
    if (count > 0) await pipeline.exec();
  }

  /**
   * The live gateways of each user, grouped by gateway: gateway id → user ids. One command
   * for all the users (a script), so routing a message costs one round trip and one write
   * whatever the session's size.
   */
  async gatewaysOf(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const byGateway = new Map<string, string[]>();
    if (userIds.length === 0) return byGateway;
    const results = (await this.redis.eval(
      LIVE_GATEWAYS,
      userIds.length,
      ...userIds.map(userKey),
      Date.now(),
    )) as string[][];
    results.forEach((gateways, i) => {
      for (const gatewayId of gateways) {
        const users = byGateway.get(gatewayId) ?? [];
        users.push(userIds[i]!);
        byGateway.set(gatewayId, users);
      }
    });
    return byGateway;
  }

  /** Announces a gateway's push address (host:port) until now + TTL. */
  async announceGateway(gatewayId: string, pushAddress: string): Promise<void> {
    await this.redis.set(gatewayKey(gatewayId), pushAddress, 'EX', this.ttlSeconds);
  }

  async withdrawGateway(gatewayId: string): Promise<void> {
    await this.redis.del(gatewayKey(gatewayId));
  }

  /** Push addresses of the given gateways; gateways that are gone are left out. */
  async gatewayAddresses(gatewayIds: readonly string[]): Promise<Map<string, string>> {
    const addresses = new Map<string, string>();
    if (gatewayIds.length === 0) return addresses;
    const values = await this.redis.mget(gatewayIds.map(gatewayKey));
    values.forEach((value, i) => {
      if (value) addresses.set(gatewayIds[i]!, value);
    });
    return addresses;
  }
}
