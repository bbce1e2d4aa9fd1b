import { ChatClient, UpgradeRefused, setup, viewTrace, waitFor, waitForTrace } from '@tracechat/testkit';
import type { TestStack } from '@tracechat/testkit';
import { DEV_AUTH_SECRET, signToken } from '@tracechat/contracts';

let stack: TestStack;
let client: ChatClient;
let user: string;
let room: string;

beforeAll(async () => {
  stack = await setup();
  user = stack.user('carol');
  room = stack.session('proto');
  client = await stack.connect(user, 1);
  expect(await client.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

/** The connection still answers after whatever the test did to it. */
async function stillUsable(c: ChatClient = client): Promise<void> {
  expect(await c.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
}

describe('traceparent on frames', () => {
  const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const CLIENT_SPAN = '00f067aa0ba902b7';

  it('continues the client trace when the frame carries a valid traceparent', async () => {
    const ack = await client.request({
      type: 'send',
      session: room,
      text: 'continued',
      traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
      tracestate: 'vendor=abc',
    });
    expect(ack).toMatchObject({ type: 'ack', trace_id: CLIENT_TRACE });
    // spans arrive from each service on its own schedule: wait for both ends
    const trace = await waitForTrace(stack.jaegerUrl, CLIENT_TRACE, (t) =>
      ['journal.mq.publish', 'gateway.ws.on_message'].every((name) => t.spans.some((s) => s.operationName === name)),
    );
    const root = viewTrace(trace).one('gateway.ws.on_message');
    expect(root.references).toEqual([
      expect.objectContaining({ refType: 'CHILD_OF', traceID: CLIENT_TRACE, spanID: CLIENT_SPAN }),
    ]);
  });

  it.each([
    ['header', false],
    ['query parameter', true],
  ])('makes the connect span a child of a traceparent given as a %s', async (_label, inQuery) => {
    const traceId = inQuery ? '5bf92f3577b34da6a3ce929d0e0e4736' : '6bf92f3577b34da6a3ce929d0e0e4736';
    const traceparent = `00-${traceId}-${CLIENT_SPAN}-01`;
    const url = inQuery ? `${stack.gatewayUrls[0]}?traceparent=${traceparent}` : stack.gatewayUrls[0];
    const c = await ChatClient.connect(url, { token: stack.token(user), headers: inQuery ? {} : { traceparent } });
    await c.close();
    const trace = await waitForTrace(stack.jaegerUrl, traceId, (t) =>
      ['gateway.auth.authenticate', 'gateway.ws.connect'].every((name) => t.spans.some((s) => s.operationName === name)),
    );
    const v = viewTrace(trace);
    const connect = v.one('gateway.ws.connect');
    expect(connect.references).toEqual([expect.objectContaining({ traceID: traceId, spanID: CLIENT_SPAN })]);
    expect(v.parent(v.one('gateway.auth.authenticate'))).toBe(connect);
  });

  it.each([
    ['bad version', `ff-${CLIENT_TRACE}-${CLIENT_SPAN}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${CLIENT_SPAN}-01`],
    ['all-zero span id', `00-${CLIENT_TRACE}-${'0'.repeat(16)}-01`],
    ['short trace id', `00-${CLIENT_TRACE.slice(2)}-${CLIENT_SPAN}-01`],
    ['long span id', `00-${CLIENT_TRACE}-${CLIENT_SPAN}ab-01`],
    ['upper-case hex', `00-${CLIENT_TRACE.toUpperCase()}-${CLIENT_SPAN}-01`],
    ['extra field in version 00', `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01-extra`],
    ['not a string', 42],
  ])('starts a new trace for a traceparent with %s, and is not an error', async (_label, traceparent) => {
    const ack = await client.request({ type: 'send', session: room, text: 'fresh', traceparent });
    expect(ack.type).toBe('ack');
    expect(ack.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(ack.trace_id).not.toBe(CLIENT_TRACE);
    const trace = await waitForTrace(stack.jaegerUrl, String(ack.trace_id), (t) =>
      t.spans.some((s) => s.operationName === 'gateway.ws.on_message'),
    );
    expect(viewTrace(trace).one('gateway.ws.on_message').references).toEqual([]);
  });
});

describe('bad input', () => {
  it.each([
    ['malformed JSON', '{"type":"send",', null, 'INVALID_FRAME'],
    ['a non-object', '[1,2,3]', null, 'INVALID_FRAME'],
    ['a JSON string', '"join"', null, 'INVALID_FRAME'],
    ['an unknown type', '{"type":"shout","id":"u1"}', 'u1', 'INVALID_FRAME'],
    ['a missing type', '{"id":"u2"}', 'u2', 'INVALID_FRAME'],
    ['a missing id', '{"type":"ping"}', null, 'INVALID_FRAME'],
    ['an id over 64 characters', JSON.stringify({ type: 'ping', id: 'x'.repeat(65) }), null, 'INVALID_FRAME'],
    ['a missing session', '{"type":"join","id":"u3"}', 'u3', 'INVALID_FRAME'],
    ['a numeric session', '{"type":"join","id":"u4","session":7}', 'u4', 'INVALID_FRAME'],
    ['a session with a dot', '{"type":"join","id":"u5","session":"a.b"}', 'u5', 'INVALID_FRAME'],
    ['a missing text', '{"type":"send","id":"u6","session":"s"}', 'u6', 'INVALID_FRAME'],
    ['a numeric text', '{"type":"send","id":"u7","session":"s","text":5}', 'u7', 'INVALID_FRAME'],
    ['a negative after_seq', '{"type":"history","id":"u8","session":"s","after_seq":-1}', 'u8', 'INVALID_FRAME'],
    ['a string limit', '{"type":"history","id":"u9","session":"s","limit":"10"}', 'u9', 'INVALID_FRAME'],
    ['a non-boolean debug', '{"type":"ping","id":"u10","debug":"yes"}', 'u10', 'INVALID_FRAME'],
  ])('answers %s with an error frame and keeps the connection', async (_label, raw, id, code) => {
    const reply = client.waitFor((f) => f.type === 'error' && f.id === id);
    client.sendRaw(raw);
    expect(await reply).toMatchObject({ type: 'error', id, code, message: expect.any(String) });
    await stillUsable();
  });

  it('answers text over the limit with TOO_LARGE and keeps the connection', async () => {
    const reply = await client.request({ id: 'big', type: 'send', session: room, text: 'x'.repeat(4097) });
    expect(reply).toMatchObject({ type: 'error', id: 'big', code: 'TOO_LARGE' });
    await stillUsable();
  });

  it('answers a binary frame with INVALID_FRAME', async () => {
    const reply = client.waitFor((f) => f.type === 'error' && f.id === null);
    client.sendRaw(Buffer.from('{"type":"ping","id":"bin"}'), true);
    expect(await reply).toMatchObject({ code: 'INVALID_FRAME' });
    await stillUsable();
  });

  it('refuses sending to a session the user has not joined with FORBIDDEN', async () => {
    const reply = await client.request({ type: 'send', session: stack.session('elsewhere'), text: 'hi' });
    expect(reply).toMatchObject({ type: 'error', code: 'FORBIDDEN', trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const history = await client.request({ type: 'history', session: stack.session('elsewhere') });
    expect(history).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    await stillUsable();
  });

  it('closes the connection with 1009 for a frame over the size limit, and nothing else breaks', async () => {
    const abuser = await stack.connect(stack.user('abuser'), 1);
    abuser.sendRaw(JSON.stringify({ type: 'send', id: 'huge', session: room, text: 'y'.repeat(20_000) }));
    expect((await abuser.waitClosed()).code).toBe(1009);
    await stillUsable();
  });

  it('rate-limits a flood with RATE_LIMITED and recovers', async () => {
    const flooder = await stack.connect(stack.user('flooder'), 2);
    const replies = Array.from({ length: 150 }, (_, i) => flooder.request({ type: 'ping', id: `f${i}` }));
    const frames = await Promise.all(replies);
    const limited = frames.filter((f) => f.type === 'error' && f.code === 'RATE_LIMITED');
    expect(limited.length).toBeGreaterThan(0);
    expect(frames.filter((f) => f.type === 'pong').length).toBeGreaterThanOrEqual(100);
    // the bucket refills with time: pings are answered again within seconds, on the same
    // connection (a second ping right after could meet an empty bucket again, so one is the proof)
    await waitFor(async () => (await flooder.request({ type: 'ping' })).type === 'pong', { timeoutMs: 5000, intervalMs: 200, what: 'a pong after the flood' });
  });

  describe('tokens at the upgrade', () => {
    const connect = (token?: string, tokenInQuery = false) =>
      ChatClient.connect(stack.gatewayUrls[0], { token, tokenInQuery });

    it('accepts a valid token in the query string', async () => {
      const c = await connect(stack.token(user), true);
      await stillUsable(c);
      await c.close();
    });

    it.each([
      ['missing', undefined],
      ['expired', signToken('dave', DEV_AUTH_SECRET, -120)],
      ['wrongly signed', signToken('dave', 'another-secret-of-length')],
      ['never expiring (no exp)', signToken('dave', DEV_AUTH_SECRET, 60, Date.now(), { exp: undefined })],
      ['too long-lived (a year)', signToken('dave', DEV_AUTH_SECRET, 365 * 24 * 3600)],
      ['not a JWT', 'abc.def'],
    ])('refuses a %s token with HTTP 401', async (_label, token) => {
      await expect(connect(token)).rejects.toEqual(new UpgradeRefused(401));
    });
  });

  it('left every service running', () => {
    for (const [name, proc] of stack.processes) expect([name, proc.running]).toEqual([name, true]);
  });
});
