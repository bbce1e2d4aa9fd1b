import { setup } from '@tracechat/testkit';
import type { ChatClient, Frame, TestStack } from '@tracechat/testkit';

let stack: TestStack;

beforeAll(async () => {
  stack = await setup();
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

const isMessage = (id: unknown) => (f: Frame) => f.type === 'message' && f.message_id === id;

/** Sends a message that must reach `reader`, so a missing push before it is really missing. */
async function control(sender: ChatClient, reader: ChatClient, session: string): Promise<void> {
  const ack = await sender.request({ type: 'send', session, text: 'control' });
  expect(ack.type).toBe('ack');
  await reader.waitFor(isMessage(ack.message_id));
}

/**
 * History from the start once it holds `count` messages: it is the journal's projection, which
 * follows the ack within milliseconds (docs/architecture.md).
 */
async function historyOf(c: ChatClient, session: string, count: number): Promise<Frame[]> {
  for (let tries = 0; ; tries++) {
    const messages = (await c.request({ type: 'history', session, after_seq: 0, limit: 10 })).messages as Frame[];
    if (messages.length >= count || tries >= 100) return messages;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('session access', () => {
  it('keeps a private session to its members: an outsider can neither join, read, send, invite nor receive', async () => {
    const room = stack.session('private');
    const alice = await stack.connect(stack.user('alice'), 1);
    const carol = await stack.connect(stack.user('carol'), 2);
    const mallory = await stack.connect(stack.user('mallory'), 2);
    expect(await alice.request({ type: 'join', session: room })).toMatchObject({ type: 'joined', last_seq: 0 });
    const secret = await alice.request({ type: 'send', session: room, text: 'members only' });
    expect(secret.type).toBe('ack');
    expect((await historyOf(alice, room, 1)).map((m) => m.text)).toEqual(['members only']);

    for (const frame of [
      { type: 'join', session: room },
      { type: 'join', session: room, public: true },
      { type: 'history', session: room, after_seq: 0, limit: 10 },
      { type: 'send', session: room, text: 'let me in' },
      { type: 'invite', session: room, user: stack.user('mallory') },
    ]) {
      expect(await mallory.request(frame)).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    }

    // the invited user gets in, reads the history and receives new messages; mallory receives nothing
    expect(await alice.request({ type: 'invite', session: room, user: stack.user('carol') })).toMatchObject({
      type: 'invited',
      session: room,
      user: stack.user('carol'),
    });
    expect(await carol.request({ type: 'join', session: room })).toMatchObject({ type: 'joined', last_seq: secret.seq });
    const history = await carol.request({ type: 'history', session: room, after_seq: 0, limit: 10 });
    expect((history.messages as Frame[]).map((m) => m.text)).toEqual(['members only']);
    const next = await alice.request({ type: 'send', session: room, text: 'welcome carol' });
    await carol.waitFor(isMessage(next.message_id));
    const mine = stack.session('mallorys-own');
    expect(await mallory.request({ type: 'join', session: mine })).toMatchObject({ type: 'joined' });
    await control(mallory, await stack.connect(stack.user('mallory'), 1), mine);
    expect(mallory.received.filter((f) => f.type === 'message' && f.session === room)).toEqual([]);
  });

  it('lets anyone join a public session, and a member invite others', async () => {
    const room = stack.session('public');
    const owner = await stack.connect(stack.user('owner'), 1);
    const guest = await stack.connect(stack.user('guest'), 2);
    expect(await owner.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    expect(await guest.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
    expect(await guest.request({ type: 'invite', session: room, user: stack.user('friend') })).toMatchObject({ type: 'invited' });
    const friend = await stack.connect(stack.user('friend'), 1);
    const ack = await owner.request({ type: 'send', session: room, text: 'hi all' });
    expect(await historyOf(friend, room, 1)).toMatchObject([{ message_id: ack.message_id, text: 'hi all' }]);
  });

  it('refuses leave for a non-member with NOT_FOUND, and a member who left is an outsider again', async () => {
    const room = stack.session('leaving');
    const a = await stack.connect(stack.user('a'), 1);
    const b = await stack.connect(stack.user('b'), 1);
    await a.request({ type: 'join', session: room });
    await a.request({ type: 'invite', session: room, user: stack.user('b') });
    expect(await b.request({ type: 'leave', session: room })).toMatchObject({ type: 'left' });
    expect(await b.request({ type: 'leave', session: room })).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
    expect(await b.request({ type: 'send', session: room, text: 'still here?' })).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    expect(await b.request({ type: 'join', session: room })).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
  });
});

describe('idempotent sends', () => {
  it('answers a retry with the same client_msg_id and text with the original message, across reconnects and gateways', async () => {
    const room = stack.session('retry');
    const user = stack.user('retrier');
    const first = await stack.connect(user, 1);
    const reader = await stack.connect(stack.user('reader'), 2);
    await first.request({ type: 'join', session: room, public: true });
    await reader.request({ type: 'join', session: room });
    const ack = await first.request({ id: '1', type: 'send', session: room, text: 'exactly once', client_msg_id: 'k-1' });
    await reader.waitFor(isMessage(ack.message_id));
    await first.close();

    const again = await stack.connect(user, 2);
    const retry = await again.request({ id: '1', type: 'send', session: room, text: 'exactly once', client_msg_id: 'k-1' });
    expect(retry).toMatchObject({ type: 'ack', message_id: ack.message_id, seq: ack.seq, duplicate: true });
    // the same frame id without a key is a new message: frame ids only pair replies
    const fresh = await again.request({ id: '1', type: 'send', session: room, text: 'exactly once' });
    expect(fresh).toMatchObject({ type: 'ack', seq: (ack.seq as number) + 1 });
    expect(fresh.message_id).not.toBe(ack.message_id);
    await reader.waitFor(isMessage(fresh.message_id));
    expect(reader.received.filter(isMessage(ack.message_id))).toEqual([]);
    const history = await reader.request({ type: 'history', session: room, after_seq: 0, limit: 10 });
    expect((history.messages as Frame[]).map((m) => m.message_id)).toEqual([ack.message_id, fresh.message_id]);
  });

  it('refuses the same client_msg_id with another text as CONFLICT, and scopes keys to the session', async () => {
    const room = stack.session('conflict');
    const other = stack.session('conflict-other');
    const c = await stack.connect(stack.user('writer'), 1);
    await c.request({ type: 'join', session: room });
    await c.request({ type: 'join', session: other });
    const ack = await c.request({ type: 'send', session: room, text: 'first', client_msg_id: 'same' });
    expect(await c.request({ type: 'send', session: room, text: 'second', client_msg_id: 'same' })).toMatchObject({
      type: 'error',
      code: 'CONFLICT',
    });
    const elsewhere = await c.request({ type: 'send', session: other, text: 'second', client_msg_id: 'same' });
    expect(elsewhere).toMatchObject({ type: 'ack' });
    expect(elsewhere.duplicate).toBeUndefined();
    expect((await historyOf(c, room, 1)).map((m) => m.message_id)).toEqual([ack.message_id]);
  });

  it('refuses text with a NUL or other control character before anything is stored', async () => {
    const room = stack.session('controls');
    const c = await stack.connect(stack.user('typist'), 1);
    await c.request({ type: 'join', session: room });
    for (const text of ['nul\u0000byte', 'bell\u0007', 'esc\u001b[2J']) {
      expect(await c.request({ type: 'send', session: room, text })).toMatchObject({ type: 'error', code: 'INVALID_FRAME' });
    }
    expect(await c.request({ type: 'send', session: room, text: 'tabs\tand\nnewlines are fine' })).toMatchObject({ type: 'ack' });
    const messages = await historyOf(c, room, 1);
    expect(messages.map((m) => m.text)).toEqual(['tabs\tand\nnewlines are fine']);
  });
});
