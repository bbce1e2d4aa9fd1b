import type { ChatClient, TestStack } from '@tracechat/testkit';

/** Two members of one public session, watching that chat keeps working while a test abuses the stack. */
export interface ChatPair {
  readonly alice: ChatClient;
  readonly bob: ChatClient;
  readonly room: string;
  /** Sends `text` from one to the other: it must be acked and pushed within 20 s. */
  send(from: ChatClient, to: ChatClient, text: string): Promise<void>;
}

/** Connects alice and bob (to the gateways given) and joins both to a new public session. */
export async function chatPair(
  stack: TestStack,
  name: string,
  gateways: readonly [1 | 2, 1 | 2],
): Promise<ChatPair> {
  const alice = await stack.connect(stack.user('alice'), gateways[0]);
  const bob = await stack.connect(stack.user('bob'), gateways[1]);
  const room = stack.session(name);
  expect(await alice.request({ type: 'join', session: room, public: true })).toMatchObject({
    type: 'joined',
  });
  expect(await bob.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
  return {
    alice,
    bob,
    room,
    send: async (from, to, text) => {
      const pushed = to.waitFor(
        (f) => f.type === 'message' && f.text === text,
        20_000,
        `push of "${text}"`,
      );
      const ack = await from.request({ type: 'send', session: room, text }, 20_000);
      expect(ack).toMatchObject({ type: 'ack' });
      expect(await pushed).toMatchObject({ message_id: ack.message_id, session: room });
    },
  };
}
