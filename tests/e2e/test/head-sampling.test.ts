import { fetchTrace, searchTraces, setup } from '@tracechat/testkit';
import type { ChatClient, TestStack } from '@tracechat/testkit';

// Head rules, seen in Jaeger with the collector tier off (whatever the head keeps is stored).
const settle = () => new Promise((r) => setTimeout(r, 1500));

async function keptIn(stack: TestStack, traceId: unknown): Promise<boolean> {
  await settle();
  return (await fetchTrace(stack.jaegerUrl, String(traceId))) !== undefined;
}

/** Sends on a connection until a send is kept, or gives up after `withinMs`. */
async function keptWithin(stack: TestStack, client: ChatClient, session: string, withinMs: number, wanted: boolean) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const ack = await client.request({ type: 'send', session, text: 'probe' });
    if ((await keptIn(stack, ack.trace_id)) === wanted) return true;
    if (Date.now() > deadline) return false;
  }
}

describe('ratio 0 with a runtime whitelist', () => {
  let stack: TestStack;
  let admin: (method: string, path: string, body?: unknown, token?: string) => Promise<Response>;

  beforeAll(async () => {
    stack = await setup({ env: { TRACECHAT_SAMPLING_RATIO: '0', WHITELIST_SYNC_INTERVAL_MS: '1000' } });
    admin = (method, path, body, token = stack.adminToken) =>
      fetch(`http://127.0.0.1:${stack.ports.gateway1}/admin/sampling/whitelist${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
  }, 180_000);

  afterAll(async () => {
    await stack?.cleanup();
  });

  it('keeps nothing ordinary', async () => {
    const c = await stack.connect(stack.user('plain'), 1);
    const room = stack.session('plain');
    await c.request({ type: 'join', session: room });
    const ack = await c.request({ type: 'send', session: room, text: 'unsampled' });
    expect(ack).toMatchObject({ type: 'ack', trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(await keptIn(stack, ack.trace_id)).toBe(false);
  });

  it('keeps a user added at runtime on both gateways within seconds, and stops after removal', async () => {
    const vip = stack.user('vip');
    const room = stack.session('vip');
    const c1 = await stack.connect(vip, 1);
    const c2 = await stack.connect(vip, 2);
    await c1.request({ type: 'join', session: room });
    const res = await admin('POST', '', { kind: 'users', id: vip });
    expect(res.status).toBe(201);
    expect(await (await admin('GET', '')).json()).toMatchObject({ users: expect.arrayContaining([vip]) });
    expect(await keptWithin(stack, c1, room, 1000, true)).toBe(true);
    expect(await keptWithin(stack, c2, room, 5000, true)).toBe(true);

    expect((await admin('DELETE', `/users/${vip}`)).status).toBe(204);
    expect(await keptWithin(stack, c2, room, 5000, false)).toBe(true);
    expect(await keptWithin(stack, c1, room, 5000, false)).toBe(true);
  }, 60_000);

  it('keeps every user’s messages in a whitelisted session, and only there', async () => {
    const room = stack.session('watched');
    const other = stack.session('unwatched');
    const c = await stack.connect(stack.user('anyone'), 2);
    await c.request({ type: 'join', session: room });
    await c.request({ type: 'join', session: other });
    expect((await admin('PUT', `/sessions/${room}`)).status).toBe(201);
    expect((await admin('PUT', `/sessions/${room}`)).status).toBe(200);
    expect(await keptWithin(stack, c, room, 5000, true)).toBe(true);
    const ack = await c.request({ type: 'send', session: other, text: 'not watched' });
    expect(await keptIn(stack, ack.trace_id)).toBe(false);
    expect((await admin('DELETE', `/sessions/${room}`)).status).toBe(204);
    expect((await admin('DELETE', `/sessions/${room}`)).status).toBe(404);
  }, 60_000);

  it('keeps debug frames at ratio 0', async () => {
    const c = await stack.connect(stack.user('debugger'), 1);
    const room = stack.session('debug');
    await c.request({ type: 'join', session: room });
    const ack = await c.request({ type: 'send', session: room, text: 'look at me', debug: true });
    expect(await keptIn(stack, ack.trace_id)).toBe(true);
  });

  it('follows a client’s sampled traceparent', async () => {
    const c = await stack.connect(stack.user('follower'), 1);
    const room = stack.session('follow');
    await c.request({ type: 'join', session: room });
    const traceId = 'abcdef0123456789abcdef0123456789';
    const ack = await c.request({ type: 'send', session: room, text: 'sampled upstream', traceparent: `00-${traceId}-0123456789abcdef-01` });
    expect(ack.trace_id).toBe(traceId);
    expect(await keptIn(stack, traceId)).toBe(true);
  });

  it('refuses the admin API without the right token (401) and malformed entries (400)', async () => {
    expect((await admin('GET', '', undefined, 'wrong-token-wrong-token')).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${stack.ports.gateway1}/admin/sampling/whitelist`)).status).toBe(401);
    expect((await admin('POST', '', { kind: 'users', id: 'has space' })).status).toBe(400);
    expect((await admin('POST', '', { kind: 'groups', id: 'x' })).status).toBe(400);
    expect((await admin('POST', '', { kind: 'users' })).status).toBe(400);
    expect((await admin('PUT', `/users/${'x'.repeat(129)}`)).status).toBe(400);
    expect((await admin('DELETE', '/nope/x')).status).toBe(400);
    expect(await (await admin('GET', '')).json()).toEqual({ users: [], sessions: [] });
  });
});

describe('event switches and follow_traceparent', () => {
  let stack: TestStack;

  beforeAll(async () => {
    // gateway-1 as configured by default; gateway-2 with connection and session spans off and
    // clients' traceparents ignored
    stack = await setup({
      serviceEnv: {
        'gateway-2': {
          TRACECHAT_SAMPLE_CONNECTION: 'false',
          TRACECHAT_SAMPLE_SESSION: 'false',
          TRACECHAT_SAMPLING_FOLLOW_TRACEPARENT: 'false',
        },
      },
    });
  }, 180_000);

  afterAll(async () => {
    await stack?.cleanup();
  });

  const spansOf = async (operation: string, userId: string) => {
    await settle();
    const traces = await searchTraces(stack.jaegerUrl, { service: 'gateway', operation, tags: { 'chat.user.id': userId } });
    return traces.length;
  };

  it('turns connect and join spans off where switched off, and keeps messaging', async () => {
    const room = stack.session('switches');
    const [one, two] = [stack.user('one'), stack.user('two')];
    const c1 = await stack.connect(one, 1);
    const c2 = await stack.connect(two, 2);
    await c1.request({ type: 'join', session: room });
    await c2.request({ type: 'join', session: room });
    expect(await spansOf('gateway.ws.connect', one)).toBe(1);
    expect(await spansOf('gateway.session.join', one)).toBe(1);
    expect(await spansOf('gateway.ws.connect', two)).toBe(0);
    expect(await spansOf('gateway.session.join', two)).toBe(0);
    const ack = await c2.request({ type: 'send', session: room, text: 'still traced' });
    expect(await keptIn(stack, ack.trace_id)).toBe(true);
  });

  it('ignores the client’s context with follow_traceparent=false', async () => {
    const room = stack.session('nofollow');
    const c2 = await stack.connect(stack.user('three'), 2);
    await c2.request({ type: 'join', session: room });
    const clientTrace = '11112222333344445555666677778888';
    const ack = await c2.request({ type: 'send', session: room, text: 'mine', traceparent: `00-${clientTrace}-1111222233334444-01` });
    expect(ack.trace_id).not.toBe(clientTrace);
    expect(await keptIn(stack, ack.trace_id)).toBe(true);
    expect(await keptIn(stack, clientTrace)).toBe(false);
  });
});
