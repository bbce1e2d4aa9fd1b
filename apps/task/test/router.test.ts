import { randomBytes } from 'node:crypto';
import { Presence } from '@tracechat/presence';
import { createTestRedis } from '@tracechat/testkit';
import type { TestRedis } from '@tracechat/testkit';
import { Router } from '../src/router';
import type { MemberSource } from '../src/router';

const run = randomBytes(4).toString('hex');
let redis: TestRedis;

/** logic's ListMembers, answered from a map. */
class Members implements MemberSource {
  readonly sessions = new Map<string, string[]>();
  async listMembers({ sessionId }: { sessionId: string }) {
    return { userIds: this.sessions.get(sessionId) ?? [] };
  }
}

beforeAll(async () => {
  redis = await createTestRedis();
});

afterAll(async () => {
  await redis?.cleanup();
});

describe('Router', () => {
  it('groups online members by gateway and leaves out offline members and dead gateways', async () => {
    const presence = new Presence(redis.redis, 5);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => `${n}-${run}`) as [
      string,
      string,
      string,
      string,
    ];
    const [g1, g2, gone] = ['g1', 'g2', 'gone'].map((n) => `${n}-${run}`) as [
      string,
      string,
      string,
    ];
    const members = new Members();
    members.sessions.set(`room-${run}`, [a, b, c, d]);
    await presence.announceGateway(g1, '127.0.0.1:1001');
    await presence.announceGateway(g2, '127.0.0.1:1002');
    await presence.online(g1, [a, b]);
    await presence.online(g2, [b]);
    await presence.online(gone, [c]); // its gateway never announced an address: it is gone
    const routes = await new Router(members, presence).resolve(`room-${run}`);
    const sorted = routes
      .map((r) => ({ ...r, userIds: [...r.userIds].sort() }))
      .sort((x, y) => x.gatewayId.localeCompare(y.gatewayId));
    expect(sorted).toEqual([
      { gatewayId: g1, address: '127.0.0.1:1001', userIds: [a, b].sort() },
      { gatewayId: g2, address: '127.0.0.1:1002', userIds: [b] },
    ]);

    await presence.offline(g1, [a]);
    const after = await new Router(members, presence).resolve(`room-${run}`);
    expect(after.find((r) => r.gatewayId === g1)!.userIds).toEqual([b]);
  });
});
