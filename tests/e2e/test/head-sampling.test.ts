import { assertAbsentAfterControl, fetchTrace, searchTraces, setup, waitFor } from '@tracechat/testkit';
import type { ChatClient, Frame, TestStack } from '@tracechat/testkit';

// Head rules, seen in Jaeger with the collector tier off (whatever the head keeps is stored).
// Presence is polled with a deadline; absence is asserted only after a control trace, exported
// later by the same processes and always kept, has arrived.

const isKept = async (stack: TestStack, traceId: unknown) => (await fetchTrace(stack.jaegerUrl, String(traceId))) !== undefined;

/** Waits until Jaeger holds the trace; fails after `timeoutMs`. */
async function expectKept(stack: TestStack, traceId: unknown, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => isKept(stack, traceId), { timeoutMs, intervalMs: 250, what: `trace ${String(traceId)} in Jaeger` });
}

/** A debug send (kept at any ratio) on the same connection, after the one that must not be kept. */
async function controlSent(client: ChatClient, session: string): Promise<Frame> {
  const ack = await client.request({ type: 'send', session, text: 'control', debug: true });
  expect(ack.type).toBe('ack');
  return ack;
}

/** Asserts the traces are not in Jaeger once a later control trace from `client` is. */
async function expectNotKept(stack: TestStack, client: ChatClient, session: string, ...traceIds: unknown[]): Promise<void> {
  await assertAbsentAfterControl({
    sendControl: () => controlSent(client, session),
    controlArrived: (control) => isKept(stack, control.trace_id),
    absent: async () => {
      for (const id of traceIds) expect(`${String(id)} kept: ${await isKept(stack, id)}`).toBe(`${String(id)} kept: false`);
    },
    timeoutMs: 15_000,
    intervalMs: 250,
  });
}

/** Sends a probe and tells whether it was kept, decided once a later control trace arrived. */
async function probeKept(stack: TestStack, client: ChatClient, session: string): Promise<boolean> {
  const probe = await client.request({ type: 'send', session, text: 'probe' });
  const control = await controlSent(client, session);
  await expectKept(stack, control.trace_id);
  return isKept(stack, probe.trace_id);
}

/** Probes until the whitelist change reached the connection's gateway (sync runs every second). */
async function expectProbesKept(stack: TestStack, client: ChatClient, session: string, wanted: boolean): Promise<void> {
  await waitFor(async () => (await probeKept(stack, client, session)) === wanted, {
    timeoutMs: 20_000,
    intervalMs: 0,
    what: `a probe ${wanted ? 'kept' : 'dropped'}`,
  });
}

describe('ratio 0 with a runtime whitelist', () => {
  let stack: TestStack;
  let admin: (method: string, path: string, body?: unknown, token?: string) => Promise<Response>;

  beforeAll(async () => {
    stack = await setup({ env: { TRACECHAT_SAMPLING_RATIO: '0', WHITELIST_SYNC_INTERVAL_MS: '1000' } });
    admin = (method, path, body, token = stack.adminToken) =>
      fetch(`${stack.adminUrls[0]}/admin/sampling/whitelist${path}`, {
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
    await c.request({ type: 'join', session: room, public: true });
    const ack = await c.request({ type: 'send', session: room, text: 'unsampled' });
    expect(ack).toMatchObject({ type: 'ack', trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    await expectNotKept(stack, c, room, ack.trace_id);
  });

  it('keeps a user added at runtime on both gateways within seconds, and stops after removal', async () => {
    const vip = stack.user('vip');
    const room = stack.session('vip');
    const c1 = await stack.connect(vip, 1);
    const c2 = await stack.connect(vip, 2);
    await c1.request({ type: 'join', session: room, public: true });
    // this run's whitelist (its own Redis prefix): no entry of another run or of `pnpm start`
    expect(await (await admin('GET', '')).json()).toMatchObject({ users: [] });
    const res = await admin('POST', '', { kind: 'users', id: vip });
    expect(res.status).toBe(201);
    expect(await (await admin('GET', '')).json()).toMatchObject({ users: [vip] });
    // gateway 1 refreshes its sampler on the write; gateway 2 within its sync interval
    expect(await probeKept(stack, c1, room)).toBe(true);
    await expectProbesKept(stack, c2, room, true);

    expect((await admin('DELETE', `/users/${vip}`)).status).toBe(204);
    await expectProbesKept(stack, c2, room, false);
    await expectProbesKept(stack, c1, room, false);
  }, 120_000);

  it('keeps every user’s messages in a whitelisted session, and only there', async () => {
    const room = stack.session('watched');
    const other = stack.session('unwatched');
    const c = await stack.connect(stack.user('anyone'), 2);
    await c.request({ type: 'join', session: room, public: true });
    await c.request({ type: 'join', session: other, public: true });
    expect((await admin('PUT', `/sessions/${room}`)).status).toBe(201);
    expect((await admin('PUT', `/sessions/${room}`)).status).toBe(200);
    await expectProbesKept(stack, c, room, true);
    const ack = await c.request({ type: 'send', session: other, text: 'not watched' });
    await expectNotKept(stack, c, other, ack.trace_id);
    expect((await admin('DELETE', `/sessions/${room}`)).status).toBe(204);
    expect((await admin('DELETE', `/sessions/${room}`)).status).toBe(404);
  }, 120_000);

  it('keeps debug frames at ratio 0', async () => {
    const c = await stack.connect(stack.user('debugger'), 1);
    const room = stack.session('debug');
    await c.request({ type: 'join', session: room, public: true });
    const ack = await c.request({ type: 'send', session: room, text: 'look at me', debug: true });
    await expectKept(stack, ack.trace_id);
  });

  it('follows a client’s sampled traceparent', async () => {
    const c = await stack.connect(stack.user('follower'), 1);
    const room = stack.session('follow');
    await c.request({ type: 'join', session: room, public: true });
    const traceId = 'abcdef0123456789abcdef0123456789';
    const ack = await c.request({ type: 'send', session: room, text: 'sampled upstream', traceparent: `00-${traceId}-0123456789abcdef-01` });
    expect(ack.trace_id).toBe(traceId);
    await expectKept(stack, traceId);
  });

  it('refuses the admin API without the right token (401) and malformed entries (400)', async () => {
    expect((await admin('GET', '', undefined, 'wrong-token-wrong-token')).status).toBe(401);
    expect((await fetch(`${stack.adminUrls[0]}/admin/sampling/whitelist`)).status).toBe(401);
    // the public port does not serve the admin API at all
    expect((await fetch(`http://127.0.0.1:${stack.ports.gateway1}/admin/sampling/whitelist`)).status).toBe(404);
    expect((await admin('POST', '', { kind: 'users', id: 'has space' })).status).toBe(400);
    expect((await admin('POST', '', { kind: 'groups', id: 'x' })).status).toBe(400);
    expect((await admin('POST', '', { kind: 'users' })).status).toBe(400);
    expect((await admin('PUT', `/users/${'x'.repeat(129)}`)).status).toBe(400);
    expect((await admin('DELETE', '/nope/x')).status).toBe(400);
    // nothing of that was stored (entries of other tests in this file may be there)
    const list = (await (await admin('GET', '')).json()) as { users: string[]; sessions: string[] };
    expect([...list.users, ...list.sessions].filter((id) => ['has space', 'x', 'x'.repeat(129)].includes(id))).toEqual([]);
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
    const traces = await searchTraces(stack.jaegerUrl, { service: 'gateway', operation, tags: { 'chat.user.id': userId } });
    return traces.length;
  };

  it('turns connect and join spans off where switched off, and keeps messaging', async () => {
    const room = stack.session('switches');
    const [one, two] = [stack.user('one'), stack.user('two')];
    const c1 = await stack.connect(one, 1);
    const c2 = await stack.connect(two, 2);
    await c1.request({ type: 'join', session: room, public: true });
    await c2.request({ type: 'join', session: room, public: true });
    await waitFor(async () => (await spansOf('gateway.ws.connect', one)) === 1, { timeoutMs: 15_000, what: 'connect span of one' });
    await waitFor(async () => (await spansOf('gateway.session.join', one)) === 1, { timeoutMs: 15_000, what: 'join span of one' });
    // and no second one
    expect(await spansOf('gateway.ws.connect', one)).toBe(1);
    // gateway-2's later send is traced: once it is in Jaeger, its earlier connect and join spans would be too
    await assertAbsentAfterControl({
      sendControl: () => c2.request({ type: 'send', session: room, text: 'still traced' }),
      controlArrived: (ack) => isKept(stack, ack.trace_id),
      absent: async () => {
        expect(await spansOf('gateway.ws.connect', two)).toBe(0);
        expect(await spansOf('gateway.session.join', two)).toBe(0);
      },
      timeoutMs: 15_000,
    });
  });

  it('ignores the client’s context with follow_traceparent=false', async () => {
    const room = stack.session('nofollow');
    const c2 = await stack.connect(stack.user('three'), 2);
    await c2.request({ type: 'join', session: room, public: true });
    const clientTrace = '11112222333344445555666677778888';
    const ack = await c2.request({ type: 'send', session: room, text: 'mine', traceparent: `00-${clientTrace}-1111222233334444-01` });
    expect(ack.trace_id).not.toBe(clientTrace);
    // the message's own trace is the control: same spans, same exporters
    await assertAbsentAfterControl({
      sendControl: () => ack,
      controlArrived: (control) => isKept(stack, control.trace_id),
      absent: async () => expect(await isKept(stack, clientTrace)).toBe(false),
      timeoutMs: 15_000,
    });
  });
});
