import { randomBytes } from 'node:crypto';
import type { Pool } from '@tracechat/postgres';
import { Presence } from '@tracechat/presence';
import { createTestDatabase, createTestRedis } from '@tracechat/testkit';
import type { TestDatabase, TestRedis } from '@tracechat/testkit';
import { Router } from '../src/router';

const run = randomBytes(4).toString('hex');
let db: TestDatabase;
let pool: Pool;
let redis: TestRedis;

beforeAll(async () => {
  db = await createTestDatabase('task_test');
  pool = db.pool;
  await pool.query('CREATE TABLE members (session_id text NOT NULL, user_id text NOT NULL, PRIMARY KEY (session_id, user_id))');
  redis = await createTestRedis();
});

afterAll(async () => {
  await db?.drop();
  await redis?.cleanup();
});

describe('Router', () => {
  it('groups online members by gateway and leaves out offline members and dead gateways', async () => {
    const presence = new Presence(redis.redis, 5);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => `${n}-${run}`) as [string, string, string, string];
    const [g1, g2, gone] = ['g1', 'g2', 'gone'].map((n) => `${n}-${run}`) as [string, string, string];
    for (const user of [a, b, c, d]) {
      await pool.query('INSERT INTO members VALUES ($1, $2)', [`room-${run}`, user]);
    }
    await presence.announceGateway(g1, '127.0.0.1:1001');
    await presence.announceGateway(g2, '127.0.0.1:1002');
    await presence.online(g1, [a, b]);
    await presence.online(g2, [b]);
    await presence.online(gone, [c]); // its gateway never announced an address: it is gone
    const routes = await new Router(pool, presence).resolve(`room-${run}`);
    // exactly these recipients per gateway (their order within a gateway is not part of the contract)
    const sorted = routes
      .map((r) => ({ ...r, userIds: [...r.userIds].sort() }))
      .sort((x, y) => x.gatewayId.localeCompare(y.gatewayId));
    expect(sorted).toEqual([
      { gatewayId: g1, address: '127.0.0.1:1001', userIds: [a, b].sort() },
      { gatewayId: g2, address: '127.0.0.1:1002', userIds: [b] },
    ]);

    await presence.offline(g1, [a]);
    const after = await new Router(pool, presence).resolve(`room-${run}`);
    expect(after.find((r) => r.gatewayId === g1)!.userIds).toEqual([b]);
  });
});
