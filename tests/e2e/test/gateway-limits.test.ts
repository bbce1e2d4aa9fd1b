import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertAbsentAfterControl, setup, viewTrace, waitFor, waitForTrace } from '@tracechat/testkit';
import type { ChatClient, Frame, TestStack } from '@tracechat/testkit';

/** The send buffer cap of these gateways: small, so the test moves little data. */
const CAP = 1024 * 1024;

let stack: TestStack;

beforeAll(async () => {
  // the collector tier keeps every trace here (100 %) and carries the gateways' counters
  stack = await setup({
    collector: true,
    collectorEnv: { TAIL_DECISION_WAIT: '1s', TRACECHAT_TAIL_SAMPLE_PERCENT: '100' },
    env: { WS_MAX_BUFFERED_BYTES: String(CAP) },
  });
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

const has = (names: string[]) => (t: { spans: { operationName: string }[] }) =>
  names.every((n) => t.spans.some((s) => s.operationName === n));

/** The sum of a Prometheus counter's series whose labels include `labels`. */
async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const body = await (await fetch(stack.metricsUrl!)).text();
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[1]), 0);
}

/** Resident memory of a process, in bytes. */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

describe('received: only for a push to the same connection', () => {
  it('ignores a received from a member who never got the push, and a repeated one, and counts the real one once', async () => {
    const room = stack.session('acks');
    const alice = await stack.connect(stack.user('alice'), 1);
    const bob = await stack.connect(stack.user('bob'), 2);
    for (const c of [alice, bob]) expect(await c.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    const before = await counter('tracechat_messages_delivered_total', { job: 'gateway' });

    const ack = await alice.request({ type: 'send', session: room, text: 'for bob' });
    const pushed = await bob.waitFor((f) => f.type === 'message' && f.message_id === ack.message_id);

    // mallory joins afterwards: a member who never got the push, on bob's gateway, who even
    // knows the push's traceparent
    const mallory = await stack.connect(stack.user('mallory'), 2);
    expect(await mallory.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    const history = await mallory.request({ type: 'history', session: room, after_seq: 0, limit: 10 });
    expect(history.messages).toEqual([expect.objectContaining({ message_id: ack.message_id })]);
    mallory.send({ type: 'received', message_id: ack.message_id, traceparent: pushed.traceparent });
    // alice, who sent it (and got no push), tries too
    alice.send({ type: 'received', message_id: ack.message_id, traceparent: pushed.traceparent });
    for (const c of [mallory, alice]) expect(await c.request({ type: 'ping' })).toMatchObject({ type: 'pong' });

    await assertAbsentAfterControl({
      sendControl: () => {
        bob.send({ type: 'received', message_id: pushed.message_id, traceparent: pushed.traceparent });
        // a second received of the same push closes nothing more
        bob.send({ type: 'received', message_id: pushed.message_id, traceparent: pushed.traceparent });
      },
      controlArrived: async () => {
        const trace = await waitForTrace(stack.jaegerUrl, String(ack.trace_id), has(['gateway.ws.delivery_ack']));
        const delivered = await counter('tracechat_messages_delivered_total', { job: 'gateway' });
        return delivered - before >= 1 ? trace : undefined;
      },
      absent: async () => {
        const trace = await waitForTrace(stack.jaegerUrl, String(ack.trace_id), has(['gateway.ws.delivery_ack']));
        const v = viewTrace(trace);
        const deliveryAck = v.one('gateway.ws.delivery_ack');
        expect(v.tag(deliveryAck, 'chat.user.id')).toBe(stack.user('bob'));
        expect(v.parent(deliveryAck)?.operationName).toBe('gateway.ws.push');
        expect((await counter('tracechat_messages_delivered_total', { job: 'gateway' })) - before).toBe(1);
      },
      timeoutMs: 30_000,
      intervalMs: 500,
      what: "bob's delivery ack",
    });
  });
});

describe('the send buffer cap', () => {
  const READERS = 20;
  const HISTORIES = 30;

  it('closes connections that do not read while asking for large histories; memory stays bounded and others keep chatting', async () => {
    const room = stack.session('big');
    const filler = await stack.connect(stack.user('filler'), 1);
    expect(await filler.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    // 200 messages of the largest text: one history reply is about 0.9 MB
    const text = 'x'.repeat(4096);
    for (let i = 0; i < 200; i++) {
      const reply = await filler.request({ type: 'send', session: room, text, client_msg_id: `fill-${i}` });
      if (reply.type !== 'ack') {
        expect(reply).toMatchObject({ code: 'RATE_LIMITED' });
        await new Promise((resolve) => setTimeout(resolve, 200));
        i--;
      }
    }

    const readers: ChatClient[] = [];
    for (let i = 0; i < READERS; i++) {
      const reader = await stack.connect(stack.user(`reader-${i}`), 1);
      expect(await reader.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
      readers.push(reader);
    }
    const chatRoom = stack.session('chat');
    const chatter = await stack.connect(stack.user('chatter'), 1);
    const peer = await stack.connect(stack.user('peer'), 2);
    for (const c of [chatter, peer]) expect(await c.request({ type: 'join', session: chatRoom, public: true })).toMatchObject({ type: 'joined' });

    const pid = stack.processes.get('gateway-1')!.pid!;
    const baseline = rss(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 50);
    try {
      // none of the readers reads its socket from now on
      for (const reader of readers) {
        reader.socket.pause();
        for (let h = 0; h < HISTORIES; h++) reader.send({ type: 'history', id: `h${h}`, session: room, after_seq: 0, limit: 200 });
      }
      // meanwhile a normal client chats through the same gateway
      const logFile = join(stack.logDir, 'gateway-1.log');
      const closedLines = () => readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('send buffer full'));
      let sent = 0;
      await waitFor(
        async () => {
          const ack = await chatter.request({ type: 'send', session: chatRoom, text: `still here ${sent}` });
          expect(ack).toMatchObject({ type: 'ack' });
          await peer.waitFor((f: Frame) => f.type === 'message' && f.message_id === ack.message_id);
          sent++;
          return closedLines().length >= READERS || undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100, what: 'every reader closed for its full send buffer' },
      );
      expect(sent).toBeGreaterThan(0);
      const lines = closedLines();
      expect(lines).toHaveLength(READERS);
      for (let i = 0; i < READERS; i++) expect(lines.some((l) => l.includes(`"user":"${stack.user(`reader-${i}`)}"`))).toBe(true);
      expect(lines.join('\n')).not.toContain(text.slice(0, 64));
    } finally {
      clearInterval(sampler);
    }

    // each reader, reading again, finds its connection ended before its histories were all sent
    for (const reader of readers) {
      reader.socket.resume();
      const closed = await reader.waitClosed(15_000);
      expect([1006, 1008]).toContain(closed.code);
      expect(reader.received.filter((f) => f.type === 'history').length).toBeLessThan(HISTORIES);
    }
    // the gateway held at most about the cap per connection, plus one reply each in flight, plus
    // the heap's garbage of the replies it built and dropped (collected when V8 gets to it: up to
    // ~215 MB above the baseline on a loaded 2-core machine). Without the cap the unread replies
    // alone would be READERS × HISTORIES × ~0.9 MB ≈ 540 MB, well past this bound.
    const bound = READERS * (CAP + 1024 * 1024) + 220 * 1024 * 1024;
    expect(READERS * HISTORIES * 900 * 1024).toBeGreaterThan(2 * bound);
    expect(peak - baseline).toBeLessThanOrEqual(bound);
    await waitFor(
      async () => (await counter('tracechat_gateway_connections_closed_total', { reason: 'send_buffer_full' })) >= READERS || undefined,
      { timeoutMs: 20_000, intervalMs: 500, what: 'the send_buffer_full count' },
    );
    expect(await chatter.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  }, 180_000);
});
