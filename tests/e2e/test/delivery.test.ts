import { Client } from 'pg';
import { Presence } from '@tracechat/presence';
import { assertAbsentAfterControl, setup, waitFor } from '@tracechat/testkit';
import type { ChatClient, Frame, TestStack } from '@tracechat/testkit';

let stack: TestStack;

beforeAll(async () => {
  stack = await setup();
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

const isMessage = (id: unknown) => (f: Frame) => f.type === 'message' && f.message_id === id;

async function joinAll(session: string, ...clients: ChatClient[]): Promise<void> {
  for (const c of clients) {
    expect(await c.request({ type: 'join', session, public: true })).toMatchObject({ type: 'joined', session });
  }
}

describe('delivery', () => {
  it('reaches every online member on both gateways, including the sender’s other connections', async () => {
    const room = stack.session('fanout');
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => stack.user(n)) as [string, string, string];
    const alice1 = await stack.connect(alice, 1);
    const alice2 = await stack.connect(alice, 2);
    const bob2 = await stack.connect(bob, 2);
    const carol1 = await stack.connect(carol, 1);
    await joinAll(room, alice1, bob2, carol1);

    const ack = await alice1.request({ type: 'send', session: room, text: 'to everyone' });
    expect(ack.type).toBe('ack');
    for (const c of [alice2, bob2, carol1]) {
      expect(await c.waitFor(isMessage(ack.message_id))).toMatchObject({ from: alice, text: 'to everyone', seq: ack.seq });
    }
    // the sending connection gets its ack, not the message: proven once a later message reached it
    await assertAbsentAfterControl({
      sendControl: () => bob2.request({ type: 'send', session: room, text: 'control' }),
      controlArrived: (control) => alice1.waitFor(isMessage(control.message_id)),
      absent: () => expect(alice1.received.filter(isMessage(ack.message_id))).toEqual([]),
    });
  });

  it('gives pipelined sends of one connection seqs in the order they were sent, pushed in that order', async () => {
    const room = stack.session('pipelined');
    const sender = await stack.connect(stack.user('pipeliner'), 1);
    const reader = await stack.connect(stack.user('watcher'), 2);
    await joinAll(room, sender, reader);
    // forty sends without waiting for any ack (the first of them misses every cache)
    const acks = await Promise.all(
      Array.from({ length: 40 }, (_, i) => sender.request({ type: 'send', session: room, text: `n${i}` })),
    );
    expect(acks.map((a) => a.type)).toEqual(acks.map(() => 'ack'));
    expect(acks.map((a) => a.seq)).toEqual(acks.map((_, i) => i + 1));
    // the last one, taken by waitFor, was pushed after all the others kept in `received`
    const last = await reader.waitFor(isMessage(acks[39]!.message_id));
    const pushed = [...reader.received.filter((f) => f.type === 'message' && f.session === room), last];
    expect(pushed.map((f) => f.text)).toEqual(acks.map((_, i) => `n${i}`));
  });

  it('gives a repeated send with the same client_msg_id the same message, delivered once', async () => {
    const room = stack.session('dedupe');
    const sender = await stack.connect(stack.user('sender'), 1);
    const reader = await stack.connect(stack.user('reader'), 2);
    await joinAll(room, sender, reader);
    const first = await sender.request({ type: 'send', session: room, text: 'once', client_msg_id: 'same-id' });
    const second = await sender.request({ type: 'send', session: room, text: 'once', client_msg_id: 'same-id' });
    expect(first.type).toBe('ack');
    expect(first.duplicate).toBeUndefined();
    expect(second).toMatchObject({ type: 'ack', message_id: first.message_id, seq: first.seq, duplicate: true });
    await reader.waitFor(isMessage(first.message_id));
    await assertAbsentAfterControl({
      sendControl: () => sender.request({ type: 'send', session: room, text: 'control' }),
      controlArrived: (control) => reader.waitFor(isMessage(control.message_id)),
      absent: () => expect(reader.received.filter(isMessage(first.message_id))).toEqual([]),
    });

    const db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT count(*)::int AS n FROM messages WHERE client_msg_id = $1', ['same-id']);
      expect(rows[0].n).toBe(1);
    } finally {
      await db.end();
    }
  });

  it('delivers a message sent while task was down once task is back', async () => {
    const room = stack.session('outage');
    const sender = await stack.connect(stack.user('early'), 1);
    const reader = await stack.connect(stack.user('late'), 2);
    await joinAll(room, sender, reader);
    await stack.stopService('task', 'kill');
    const ack = await sender.request({ type: 'send', session: room, text: 'while task is down' });
    expect(ack.type).toBe('ack');
    expect(reader.received.filter(isMessage(ack.message_id))).toEqual([]);
    await stack.startService('task');
    expect(await reader.waitFor(isMessage(ack.message_id), 15_000)).toMatchObject({ text: 'while task is down' });
    // delivered once: a message sent after it arrives, and no second copy before it
    await assertAbsentAfterControl({
      sendControl: () => sender.request({ type: 'send', session: room, text: 'control' }),
      controlArrived: (control) => reader.waitFor(isMessage(control.message_id)),
      absent: () => expect(reader.received.filter(isMessage(ack.message_id))).toEqual([]),
    });
  });

  it('serves history in seq order after a given seq, paged, and leave ends membership', async () => {
    const room = stack.session('history');
    const writer = await stack.connect(stack.user('writer'), 1);
    await joinAll(room, writer);
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ack = await writer.request({ type: 'send', session: room, text: `m${i}` });
      seqs.push(Number(ack.seq));
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    // history is the journal's projection, a few milliseconds behind the ack
    await waitFor(
      async () =>
        ((await writer.request({ type: 'history', session: room, after_seq: 0, limit: 10 })).messages as Frame[])
          .length === 5,
      { timeoutMs: 10_000, what: 'the five messages in history' },
    );
    const page1 = await writer.request({ type: 'history', session: room, after_seq: 0, limit: 3 });
    expect((page1.messages as Frame[]).map((m) => m.text)).toEqual(['m0', 'm1', 'm2']);
    const last = (page1.messages as Frame[])[2]!.seq;
    const page2 = await writer.request({ type: 'history', session: room, after_seq: last, limit: 3 });
    expect((page2.messages as Frame[]).map((m) => m.text)).toEqual(['m3', 'm4']);
    expect(page2.messages).toEqual([
      expect.objectContaining({ message_id: expect.any(String), seq: seqs[3], from: stack.user('writer'), sent_at: expect.any(String) }),
      expect.objectContaining({ seq: seqs[4] }),
    ]);
    const joined = await writer.request({ type: 'join', session: room, public: true });
    expect(joined.last_seq).toBe(seqs[4]);

    expect(await writer.request({ type: 'leave', session: room })).toMatchObject({ type: 'left', session: room });
    expect(await writer.request({ type: 'send', session: room, text: 'after leaving' })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await writer.request({ type: 'leave', session: room })).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('closes connections with 1001 when a gateway shuts down, and that gateway’s users go offline', async () => {
    const room = stack.session('shutdown');
    const [gateway1, gateway2] = stack.gatewayIds;
    const presence = new Presence(stack.redis(), 30);
    const gatewaysOf = async (user: string) => [...(await presence.gatewaysOf([user])).keys()].sort();
    const staying = await stack.connect(stack.user('staying'), 1);
    const leaving = await stack.connect(stack.user('leaving'), 2);
    await joinAll(room, staying, leaving);
    await waitFor(async () => (await gatewaysOf(stack.user('leaving'))).includes(gateway2), { what: 'presence of leaving' });
    await stack.stopService('gateway-2');
    expect((await leaving.waitClosed()).code).toBe(1001);
    // its users are offline and its push address withdrawn at once, not after the presence TTL
    expect(await gatewaysOf(stack.user('leaving'))).toEqual([]);
    expect([...(await presence.gatewayAddresses([gateway1, gateway2])).keys()]).toEqual([gateway1]);
    expect(await gatewaysOf(stack.user('staying'))).toEqual([gateway1]);
    const ack = await staying.request({ type: 'send', session: room, text: 'anyone there?' });
    expect(ack.type).toBe('ack');
    await stack.startService('gateway-2');
    const back = await stack.connect(stack.user('leaving'), 2);
    // the connection is registered in presence after the upgrade: wait for it before sending
    await waitFor(async () => (await gatewaysOf(stack.user('leaving'))).includes(gateway2), { what: 'presence of the reconnected user' });
    const later = await staying.request({ type: 'send', session: room, text: 'welcome back' });
    expect(await back.waitFor(isMessage(later.message_id))).toMatchObject({ text: 'welcome back' });
  });
});
