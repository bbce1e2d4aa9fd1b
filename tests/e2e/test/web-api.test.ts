/**
 * The gateway's HTTP API against a real stack, as the web chat uses it: sign in by name, chat
 * over the WebSocket from the page's own origin, post the browser's spans, and read a message's
 * whole journey — from the sender's `web.chat.send` to the recipient's `web.chat.render` and the
 * gateway's `delivery_ack` under it — through the trace endpoint, which only members may read.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatClient, setup, viewTrace, waitFor } from '@tracechat/testkit';
import type { Frame, JaegerTrace, TestStack } from '@tracechat/testkit';

let stack: TestStack;
let webRoot: string;

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'tracechat-web-e2e-'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>tracechat web</title>');
  stack = await setup({ gatewayEnv: { ENVIRONMENT: 'development', WEB_ROOT: webRoot } });
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
  rmSync(webRoot, { recursive: true, force: true });
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const nanos = (ms: number) => `${BigInt(Math.round(ms * 1000)) * 1000n}`;

async function api(
  path: string,
  init: { method?: string; token?: string; body?: unknown; gateway?: 1 | 2 } = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.httpUrl(init.gateway)}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function signIn(name: string): Promise<{ user: string; token: string }> {
  const user = stack.user(name);
  const { status, body } = await api('/api/dev/token', { method: 'POST', body: { user } });
  expect([status, body.user]).toEqual([200, user]);
  return { user, token: body.token as string };
}

/** One span as the browser's OTLP JSON exporter sends it, resource left to the gateway. */
function browserSpans(span: {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, string | number>;
}) {
  return {
    resourceSpans: [
      {
        // a page that claims to be logic is still `web`
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'logic' } }] },
        scopeSpans: [
          {
            scope: { name: '@tracechat/web' },
            spans: [
              {
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? '',
                name: span.name,
                kind: span.kind,
                startTimeUnixNano: nanos(span.startMs),
                endTimeUnixNano: nanos(span.endMs),
                attributes: Object.entries(span.attributes).map(([key, value]) => ({
                  key,
                  value: typeof value === 'number' ? { intValue: value } : { stringValue: value },
                })),
                status: { code: 0 },
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('the web chat through the gateway', () => {
  let alice: { user: string; token: string };
  let bob: { user: string; token: string };
  let carol: { user: string; token: string };
  let room: string;
  let ack: Frame;
  let pushed: Frame;
  const traceId = hex(16);
  const sendSpanId = hex(8);
  const renderSpanId = hex(8);

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([signIn('alice'), signIn('bob'), signIn('carol')]);
    room = stack.session('web');
    // as a browser connects: the token in the query, the page's own origin
    const connect = (who: { token: string }, gateway: 1 | 2) =>
      ChatClient.connect(stack.gatewayUrls[gateway - 1], {
        token: who.token,
        tokenInQuery: true,
        headers: { origin: stack.httpUrl(gateway) },
      });
    const a = await connect(alice, 1);
    const b = await connect(bob, 2);
    try {
      expect(await a.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
      expect(await a.request({ type: 'invite', session: room, user: bob.user })).toMatchObject({
        type: 'invited',
      });
      expect(await b.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });

      const clicked = Date.now();
      ack = await a.request({
        type: 'send',
        session: room,
        text: 'hello from the page',
        client_msg_id: `web-${room}`,
        traceparent: `00-${traceId}-${sendSpanId}-01`,
      });
      const acked = Date.now();
      pushed = await b.waitFor((f) => f.type === 'message' && f.message_id === ack.message_id);
      const shown = Date.now();
      const pushSpanId = String(pushed.traceparent).split('-')[2]!;
      const sent = await api('/api/otlp/v1/traces', {
        method: 'POST',
        token: alice.token,
        body: browserSpans({
          traceId,
          spanId: sendSpanId,
          name: 'web.chat.send',
          kind: 3,
          startMs: clicked - 1,
          endMs: acked,
          attributes: {
            'chat.session.id': room,
            'chat.message.id': String(ack.message_id),
            'chat.message.text': 'hello from the page',
          },
        }),
      });
      expect(sent).toEqual({ status: 200, body: {} });
      b.send({
        type: 'received',
        message_id: pushed.message_id,
        traceparent: `00-${traceId}-${renderSpanId}-01`,
      });
      const rendered = await api('/api/otlp/v1/traces', {
        method: 'POST',
        token: bob.token,
        gateway: 2,
        body: browserSpans({
          traceId,
          spanId: renderSpanId,
          parentSpanId: pushSpanId,
          name: 'web.chat.render',
          kind: 5,
          startMs: shown,
          endMs: Date.now() + 1,
          attributes: { 'chat.message.id': String(pushed.message_id) },
        }),
      });
      expect(rendered).toEqual({ status: 200, body: {} });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('serves the page with its CSP and tells it how to sign in', async () => {
    const page = await fetch(`${stack.httpUrl(1)}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>tracechat web</title>');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
    expect((await api('/api/config', { gateway: 2 })).body).toEqual({
      environment: 'development',
      dev_sign_in: true,
      gateway_id: stack.gatewayIds[1],
      ws_path: '/ws',
      otlp_path: '/api/otlp/v1/traces',
      jaeger_ui_url: null,
    });
  });

  it("continues the browser's trace: the send is acked under the page's traceparent", () => {
    expect(ack).toMatchObject({ type: 'ack', trace_id: traceId });
    expect(pushed.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  it("gives a member the message's journey from one browser to the other", async () => {
    const found = await waitFor(
      async () => {
        const { status, body } = await api(`/api/messages/${String(ack.message_id)}/trace`, {
          token: alice.token,
        });
        expect(status).toBe(200);
        const trace = body.trace as JaegerTrace | undefined;
        const view = trace && viewTrace(trace);
        const names = new Set(trace?.spans.map((s) => s.operationName));
        const ready =
          body.status === 'found' &&
          [
            'web.chat.send',
            'web.chat.render',
            'gateway.ws.delivery_ack',
            'task.push.gateway',
          ].every((n) => names.has(n)) &&
          view!.byName('gateway.push.deliver').length >= 1;
        return ready && body;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the whole journey in the trace endpoint' },
    );
    expect(found.message).toEqual({
      message_id: ack.message_id,
      session: room,
      seq: ack.seq,
      from: alice.user,
      sent_at: expect.any(String),
      trace_id: traceId,
    });
    expect(found.jaeger_url).toBeNull();
    const trace = found.trace as JaegerTrace;
    const v = viewTrace(trace);
    expect(new Set(trace.spans.map((s) => s.traceID))).toEqual(new Set([traceId]));
    expect(new Set(trace.spans.map((s) => v.service(s)))).toEqual(
      new Set(['web', 'gateway', 'logic', 'placement', 'journal', 'task']),
    );
    // the browser's send is the root, the gateway's frame span its child
    const send = v.one('web.chat.send');
    expect(v.parent(send)).toBeUndefined();
    expect(v.parent(v.one('gateway.ws.on_message'))).toBe(send);
    // the page could not pass for logic, and the gateway named its user
    const process = trace.processes[send.processID]!;
    expect(process.serviceName).toBe('web');
    expect(process.tags).toEqual(
      expect.arrayContaining([expect.objectContaining({ key: 'enduser.id', value: alice.user })]),
    );
    expect(trace.processes[v.one('web.chat.render').processID]!.tags).toEqual(
      expect.arrayContaining([expect.objectContaining({ key: 'enduser.id', value: bob.user })]),
    );
    // message text never reaches a trace, not even when a page puts it in an attribute
    expect(JSON.stringify(trace)).not.toContain('hello from the page');
    expect(v.tag(send, 'chat.session.id')).toBe(room);
    // the recipient's render span sits under the push, and the delivery ack under the render
    const render = v.one('web.chat.render');
    expect(v.parent(render)?.operationName).toBe('gateway.ws.push');
    expect(v.parent(v.one('gateway.ws.delivery_ack'))).toBe(render);
  });

  it('gives the same 404 to a user who is not a member and for a message that does not exist', async () => {
    const path = (id: string) => `/api/messages/${id}/trace`;
    const stranger = await api(path(String(ack.message_id)), { token: carol.token });
    const unknown = await api(path('00000000-0000-4000-8000-000000000000'), { token: alice.token });
    expect(stranger).toEqual({
      status: 404,
      body: { code: 'NOT_FOUND', message: expect.any(String) },
    });
    expect(unknown).toEqual(stranger);
    expect((await api(path(String(ack.message_id)))).status).toBe(401);
    // bob, invited, may see it from his own gateway
    const member = await api(path(String(ack.message_id)), { token: bob.token, gateway: 2 });
    expect([member.status, member.body.message.trace_id]).toEqual([200, traceId]);
  });

  it('refuses browser spans without a token, in another format, or that are not OTLP', async () => {
    const spans = (token?: string, body: unknown = { resourceSpans: 'nope' }) =>
      api('/api/otlp/v1/traces', { method: 'POST', token, body });
    expect((await spans()).status).toBe(401);
    expect((await spans(alice.token)).body).toMatchObject({ code: 'INVALID_REQUEST' });
    const protobuf = await fetch(`${stack.httpUrl(1)}/api/otlp/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/x-protobuf' },
      body: new Uint8Array([10, 0]),
    });
    expect(protobuf.status).toBe(415);
  });
});
