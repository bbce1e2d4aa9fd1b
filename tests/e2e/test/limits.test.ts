import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, ensureStream, nanos } from '@tracechat/messaging';
import type { NatsConnection } from '@tracechat/messaging';
import { setup, waitFor } from '@tracechat/testkit';
import type { Frame, TestStack } from '@tracechat/testkit';

// Small limits, so a test reaches them with a few frames.
let stack: TestStack;
let nats: NatsConnection;

beforeAll(async () => {
  stack = await setup({
    env: {
      MAX_SESSIONS_PER_USER: '3',
      MAX_MEMBERS_PER_SESSION: '3',
      MAX_INVITES_PER_USER_PER_HOUR: '2',
      NATS_STREAM_MAX_BYTES: '64MiB',
      NATS_STREAM_MAX_AGE: '2d',
    },
  });
  nats = await connectNats(stack.natsUrl, `limits-test-${stack.run}`);
}, 600_000);

afterAll(async () => {
  await nats?.close();
  await stack?.cleanup();
});

/** logic's log lines that say a quota refused something, as JSON. */
function quotaLines(): { quota: string; limit: number; userId: string; sessionId: string }[] {
  return readFileSync(join(stack.logDir, 'logic.log'), 'utf8')
    .split('\n')
    .filter((line) => line.includes('"quota reached"'))
    .map((line) => JSON.parse(line));
}

const codes = (frames: Frame[]) =>
  frames.map((f) => (f.type === 'error' ? `error ${String(f.code)}` : String(f.type))).sort();

describe('quotas', () => {
  it('lets a user create MAX_SESSIONS_PER_USER sessions, even when asking for many at once, then answers FORBIDDEN', async () => {
    const user = stack.user('creator');
    // one connection per join, on both gateways, so the joins reach logic together
    const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => stack.connect(user, i % 2 === 0 ? 1 : 2)));
    const client = clients[0]!;
    const rooms = clients.map((_, i) => stack.session(`own-${i}`));
    const answers = await Promise.all(clients.map((c, i) => c.request({ type: 'join', session: rooms[i] })));
    expect(codes(answers)).toEqual(['error FORBIDDEN', 'error FORBIDDEN', 'error FORBIDDEN', 'joined', 'joined', 'joined']);
    const refused = answers.find((f) => f.type === 'error')!;
    expect(refused.message).toBe('you have created 3 sessions, the most allowed');

    // the sessions it holds still work, and joining someone else's public session is no creation
    const created = rooms.filter((_, i) => answers[i]!.type === 'joined');
    expect(await client.request({ type: 'send', session: created[0], text: 'still here' })).toMatchObject({ type: 'ack' });
    const other = await stack.connect(stack.user('host'), 2);
    const hosted = stack.session('hosted');
    expect(await other.request({ type: 'join', session: hosted, public: true })).toMatchObject({ type: 'joined' });
    expect(await client.request({ type: 'join', session: hosted })).toMatchObject({ type: 'joined' });
    // a refused creation left no session behind: another user may create that id
    const leftover = rooms.find((_, i) => answers[i]!.type === 'error')!;
    expect(await other.request({ type: 'join', session: leftover })).toMatchObject({ type: 'joined', last_seq: 0 });

    await waitFor(() => quotaLines().filter((l) => l.userId === user).length === 3, { what: 'three quota log lines' });
    expect(quotaLines().filter((l) => l.userId === user).map((l) => [l.quota, l.limit])).toEqual([
      ['sessions_per_user', 3],
      ['sessions_per_user', 3],
      ['sessions_per_user', 3],
    ]);
  });

  it('admits MAX_MEMBERS_PER_SESSION members to a public session under concurrent joins, and one more after a leave', async () => {
    const room = stack.session('crowded');
    const owner = await stack.connect(stack.user('crowd-owner'), 1);
    expect(await owner.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    const guests = await Promise.all(
      Array.from({ length: 5 }, (_, i) => stack.connect(stack.user(`guest-${i}`), i % 2 === 0 ? 1 : 2)),
    );
    const answers = await Promise.all(guests.map((g) => g.request({ type: 'join', session: room })));
    expect(codes(answers)).toEqual(['error FORBIDDEN', 'error FORBIDDEN', 'error FORBIDDEN', 'joined', 'joined']);
    expect(answers.find((f) => f.type === 'error')!.message).toBe(`session ${room} is full (3 members)`);

    // a member that joins again is no new member
    const inside = guests.filter((_, i) => answers[i]!.type === 'joined');
    expect(await inside[0]!.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
    const outside = guests.filter((_, i) => answers[i]!.type === 'error');
    expect(await inside[0]!.request({ type: 'leave', session: room })).toMatchObject({ type: 'left' });
    expect(await outside[0]!.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
    expect(await outside[1]!.request({ type: 'join', session: room })).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    // invites count against the same limit
    expect(await owner.request({ type: 'invite', session: room, user: stack.user('late') })).toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
    });
  });

  it('answers RATE_LIMITED past MAX_INVITES_PER_USER_PER_HOUR invites that add a member; inviting a member again is free', async () => {
    const room = stack.session('invites');
    const inviter = stack.user('inviter');
    const owner = await stack.connect(inviter, 2);
    expect(await owner.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
    expect(await owner.request({ type: 'invite', session: room, user: stack.user('friend-1') })).toMatchObject({ type: 'invited' });
    expect(await owner.request({ type: 'invite', session: room, user: stack.user('friend-1') })).toMatchObject({ type: 'invited' });
    expect(await owner.request({ type: 'invite', session: room, user: stack.user('friend-2') })).toMatchObject({ type: 'invited' });
    const third = await owner.request({ type: 'invite', session: room, user: stack.user('friend-3') });
    expect(third).toMatchObject({ type: 'error', code: 'RATE_LIMITED', message: 'at most 2 invites an hour: try again later' });
    // the refused invitee is not a member
    const friend3 = await stack.connect(stack.user('friend-3'), 1);
    expect(await friend3.request({ type: 'join', session: room })).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    await waitFor(() => quotaLines().some((l) => l.userId === inviter), { what: 'the invite quota log line' });
    expect(quotaLines().filter((l) => l.userId === inviter).map((l) => l.quota)).toEqual(['invites_per_user_per_hour']);
  });
});

describe('Redis keys', () => {
  it('every key the stack wrote during a chat has a time to live', async () => {
    const room = stack.session('ttl');
    const a = await stack.connect(stack.user('ttl-a'), 1);
    const b = await stack.connect(stack.user('ttl-b'), 2);
    expect(await a.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    expect(await b.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
    const ack = await a.request({ type: 'send', session: room, text: 'ttl', client_msg_id: 'ttl-1' });
    await b.waitFor((f) => f.type === 'message' && f.message_id === ack.message_id);
    expect((await stack.admin('PUT', `/admin/sampling/whitelist/users/${stack.user('ttl-a')}`)).status).toBe(201);
    expect((await stack.admin('PUT', `/admin/sampling/whitelist/sessions/${room}`)).status).toBe(201);
    expect(await (await stack.admin('GET', '/admin/sampling/whitelist')).json()).toEqual({
      users: [stack.user('ttl-a')],
      sessions: [room],
    });

    const redis = stack.redis();
    const prefix = stack.redisKeyPrefix;
    const keys: string[] = [];
    let cursor = '0';
    do {
      // SCAN's pattern is not prefixed by ioredis; the keys it returns carry the prefix
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      keys.push(...found.map((k) => k.slice(prefix.length)));
      cursor = next;
    } while (cursor !== '0');
    expect(keys).toEqual(
      expect.arrayContaining([
        `tracechat:presence:${stack.user('ttl-a')}`,
        `tracechat:gateway:${stack.gatewayIds[0]}`,
        'tracechat:sampling:whitelist:users:until',
        'tracechat:sampling:whitelist:sessions:until',
      ]),
    );
    const ttls = await Promise.all(keys.map(async (k) => [k, await redis.ttl(k)] as const));
    expect(ttls.filter(([, ttl]) => !(ttl > 0))).toEqual([]);
  });
});

describe('JetStream limits', () => {
  it('the chat stream and its dead-letter stream have NATS_STREAM_MAX_BYTES, NATS_STREAM_MAX_AGE and discard old', async () => {
    const jsm = await nats.jetstreamManager();
    const chat = (await jsm.streams.info(stack.natsStream)).config;
    expect([chat.max_bytes, chat.max_age, chat.discard]).toEqual([64 * 1024 ** 2, nanos(2 * 86_400_000), 'old']);
    const dlq = (await jsm.streams.info(`${stack.natsStream}_DLQ`)).config;
    expect([dlq.max_bytes, dlq.max_age, dlq.discard]).toEqual([64 * 1024 ** 2, nanos(14 * 86_400_000), 'old']);
  });

  it('updates an existing stream whose limits differ, keeping its messages', async () => {
    const jsm = await nats.jetstreamManager();
    const stream = `${stack.natsStream}_LIMITS`;
    const subjectPrefix = `${stack.natsSubjectPrefix}_limits`;
    try {
      await jsm.streams.add({ name: stream, subjects: [`${subjectPrefix}.>`] });
      await nats.jetstream().publish(`${subjectPrefix}.s`, new TextEncoder().encode('kept'));
      expect((await jsm.streams.info(stream)).config.max_bytes).toBe(-1);
      await ensureStream(jsm, { stream, subjectPrefix, maxBytes: 8 * 1024 ** 2, maxAgeMs: 3_600_000 });
      const info = await jsm.streams.info(stream);
      expect([info.config.max_bytes, info.config.max_age, info.config.discard, info.state.messages]).toEqual([
        8 * 1024 ** 2,
        nanos(3_600_000),
        'old',
        1,
      ]);
    } finally {
      await jsm.streams.delete(stream).catch(() => undefined);
    }
  });
});
