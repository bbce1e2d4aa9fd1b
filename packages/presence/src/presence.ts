import type { Redis } from 'ioredis';

const userKey = (userId: string) => `tracechat:presence:${userId}`;
const gatewayKey = (gatewayId: string) => `tracechat:gateway:${gatewayId}`;

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
    for (const userId of userIds) {
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

  /** The live gateways of each user, grouped by gateway: gateway id → user ids. */
  async gatewaysOf(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const byGateway = new Map<string, string[]>();
    if (userIds.length === 0) return byGateway;
    const now = Date.now();
    const pipeline = this.redis.pipeline();
    for (const userId of userIds) pipeline.zrangebyscore(userKey(userId), now, '+inf');
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, gateways], i) => {
      if (err) throw err;
      for (const gatewayId of gateways as string[]) {
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
