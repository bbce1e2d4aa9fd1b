import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { DEV_AUTH_SECRET, signToken, verifyToken } from '@tracechat/contracts';
import type { Env } from '@tracechat/config';
import { grpc } from '@tracechat/protos';
import type { GetMessageRequest, GetMessageResponse__Output } from '@tracechat/protos';
import type { Logger } from '@tracechat/telemetry';
import { loadConfig } from '../src/config';
import { MAX_SPANS_PER_REQUEST } from '../src/browser-spans';
import { registerHttpApi } from '../src/http-api';
import { CONTENT_SECURITY_POLICY, registerWebApp } from '../src/web-app';
import { deadUrl, fakeHttpServer } from './http-fakes';
import type { FakeServer } from './http-fakes';

const SERVICE_SECRET = 'a-service-secret-of-at-least-32-characters';
const MESSAGE_ID = '0b5c9f0e-3f55-4f4e-9d4f-5a0c2b1e8d77';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** Every line logged, to show that no token is ever in one. */
const logged: unknown[] = [];
const log = Object.fromEntries(
  ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [
    level,
    (...args: unknown[]) => logged.push(args),
  ]),
) as unknown as Logger;

/** logic's GetMessage: alice may see MESSAGE_ID; anyone else, or any other id, is NOT_FOUND. */
const logic = {
  calls: [] as GetMessageRequest[],
  sentAtMs: Date.now(),
  async getMessage(req: GetMessageRequest): Promise<GetMessageResponse__Output> {
    this.calls.push(req);
    if (req.messageId !== MESSAGE_ID || req.userId !== 'alice') {
      throw Object.assign(new Error('5 NOT_FOUND: no message'), {
        code: grpc.status.NOT_FOUND,
        details: 'no message',
        metadata: new grpc.Metadata(),
      });
    }
    return {
      message: {
        messageId: MESSAGE_ID,
        sessionId: 'room',
        seq: 3,
        senderId: 'bob',
        text: '',
        sentAtMs: this.sentAtMs,
        traceId: TRACE_ID,
      },
    };
  },
};

let webRoot: string;
let collector: FakeServer;
let jaeger: FakeServer;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'tracechat-web-'));
  mkdirSync(join(webRoot, 'assets'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>tracechat</title>');
  writeFileSync(join(webRoot, 'assets', 'index-3f9a1c2b.js'), 'console.log(1)');
  writeFileSync(join(webRoot, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  collector = await fakeHttpServer((_req, res) => res.writeHead(200).end('{}'));
  jaeger = await fakeHttpServer((req, res) => {
    res.writeHead(req.url === `/api/traces/${TRACE_ID}` ? 200 : 404, {
      'content-type': 'application/json',
    });
    res.end(JSON.stringify({ data: [{ traceID: TRACE_ID, spans: [{ spanID: 'a' }] }] }));
  });
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await collector.close();
  await jaeger.close();
  rmSync(webRoot, { recursive: true, force: true });
});

interface Answer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  json(): any;
}

/**
 * A request to an app listening on loopback, answered as the browser sees it (fastify's inject
 * pulls in an ESM-only dependency that jest's CommonJS runtime cannot load).
 */
async function call(
  app: FastifyInstance,
  options: { method?: string; url: string; headers?: Record<string, string>; payload?: unknown },
): Promise<Answer> {
  const headers = { ...options.headers };
  let body: string | undefined;
  if (options.payload !== undefined) {
    body = typeof options.payload === 'string' ? options.payload : JSON.stringify(options.payload);
    if (typeof options.payload !== 'string') headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${urls.get(app)}${options.url}`, {
    method: options.method ?? 'GET',
    headers,
    body,
  });
  const text = await res.text();
  return {
    statusCode: res.status,
    headers: Object.fromEntries(res.headers),
    body: text,
    json: () => JSON.parse(text),
  };
}

const urls = new WeakMap<FastifyInstance, string>();

async function build(env: Env = {}): Promise<FastifyInstance> {
  const config = loadConfig({
    SERVICE_SECRET,
    WEB_ROOT: webRoot,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    JAEGER_QUERY_URL: jaeger.url,
    ...env,
  });
  const app = Fastify({ logger: false });
  registerWebApp(app, config.webRoot);
  registerHttpApi(app, { config, logic, log });
  urls.set(app, await app.listen({ host: '127.0.0.1', port: 0 }));
  apps.push(app);
  return app;
}

const bearer = (user: string) => ({ authorization: `Bearer ${signToken(user, DEV_AUTH_SECRET)}` });

/** One browser span as the OTLP JSON exporter writes it. */
function otlpBody(
  spans: object[] = [browserSpan()],
  resource: object[] = [{ key: 'service.name', value: { stringValue: 'web' } }],
) {
  return {
    resourceSpans: [
      { resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'web' }, spans }] },
    ],
  };
}

function browserSpan(overrides: object = {}) {
  return {
    traceId: TRACE_ID,
    spanId: '00f067aa0ba902b7',
    name: 'web.chat.send',
    kind: 3,
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000001500000',
    attributes: [
      { key: 'chat.session.id', value: { stringValue: 'room' } },
      { key: 'chat.message.size', value: { intValue: 5 } },
      { key: 'chat.message.text', value: { stringValue: 'hello there' } },
      { key: 'message', value: { stringValue: 'hello there' } },
      { key: 'http.url', value: { stringValue: 'http://x/?token=secret' } },
      { key: 'browser.language', value: { stringValue: 'en' } },
      { key: 'error.type', value: { stringValue: 'TIMEOUT' } },
    ],
    events: [],
    links: [],
    status: { code: 2, message: 'could not send "hello there"' },
    ...overrides,
  };
}

async function postSpans(
  app: FastifyInstance,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return call(app, {
    method: 'POST',
    url: '/api/otlp/v1/traces',
    headers: { 'content-type': 'application/json', ...bearer('alice'), ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('the web app at /', () => {
  it('serves index.html revalidated on every load, with the CSP and no CORS', async () => {
    const app = await build();
    const res = await call(app, { url: '/', headers: { origin: 'https://evil.example' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<title>tracechat</title>');
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('caches hashed assets for a year and other files not at all, 404 for a missing one', async () => {
    const app = await build();
    const asset = await call(app, { url: '/assets/index-3f9a1c2b.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    const icon = await call(app, { url: '/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['cache-control']).toBe('no-cache');
    expect((await call(app, { url: '/assets/missing-00000000.js' })).statusCode).toBe(404);
    expect((await call(app, { url: '/../package.json' })).statusCode).toBe(404);
  });

  it('answers 503 with how to build it while WEB_ROOT has no index.html', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tracechat-web-empty-'));
    try {
      const app = await build({ WEB_ROOT: join(empty, 'dist') });
      const res = await call(app, { url: '/' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('pnpm build');
      expect(res.body).toContain(join(empty, 'dist'));
      // the API works without the page
      expect((await call(app, { url: '/api/config' })).statusCode).toBe(200);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('refuses a cross-origin preflight: no CORS headers on the API', async () => {
    const app = await build();
    const res = await call(app, {
      method: 'OPTIONS',
      url: '/api/otlp/v1/traces',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(res.statusCode).toBe(404);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('GET /api/config', () => {
  it('tells the page where everything is, and whether it may sign in by name', async () => {
    const dev = await build({ JAEGER_UI_URL: 'http://localhost:16686/' });
    expect((await call(dev, { url: '/api/config' })).json()).toEqual({
      environment: 'development',
      dev_sign_in: true,
      gateway_id: 'gateway-1',
      ws_path: '/ws',
      otlp_path: '/api/otlp/v1/traces',
      jaeger_ui_url: 'http://localhost:16686',
    });
    const prod = await build({
      ENVIRONMENT: 'production',
      AUTH_SECRET: 'a-production-secret-of-forty-characters!',
    });
    const res = await call(prod, { url: '/api/config' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({
      environment: 'production',
      dev_sign_in: false,
      jaeger_ui_url: null,
    });
  });
});

describe('POST /api/dev/token', () => {
  it('signs a token the gateway accepts, and never logs it', async () => {
    const app = await build();
    logged.length = 0;
    const res = await call(app, {
      method: 'POST',
      url: '/api/dev/token',
      payload: { user: 'alice' },
    });
    expect(res.statusCode).toBe(200);
    const { token, user, expires_in } = res.json();
    expect({ user, expires_in }).toEqual({ user: 'alice', expires_in: 12 * 3600 });
    expect(verifyToken(token, DEV_AUTH_SECRET).userId).toBe('alice');
    expect(JSON.stringify(logged)).toContain('alice');
    expect(JSON.stringify(logged)).not.toContain(token);
  });

  it('refuses a user id outside the id rules with 400', async () => {
    const app = await build();
    for (const payload of [{ user: 'has space' }, { user: '' }, {}, { user: 42 }]) {
      const res = await call(app, { method: 'POST', url: '/api/dev/token', payload });
      expect([res.statusCode, res.json().code]).toEqual([400, 'INVALID_REQUEST']);
    }
    const garbage = await call(app, {
      method: 'POST',
      url: '/api/dev/token',
      headers: { 'content-type': 'application/json' },
      payload: '{"user":',
    });
    expect([garbage.statusCode, garbage.json().code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('is a 404 outside development', async () => {
    const app = await build({
      ENVIRONMENT: 'test',
      AUTH_SECRET: 'a-test-secret-of-at-least-32-characters!',
    });
    const res = await call(app, {
      method: 'POST',
      url: '/api/dev/token',
      payload: { user: 'alice' },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('rate limits sign-ins per address', async () => {
    const app = await build();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await call(app, {
        method: 'POST',
        url: '/api/dev/token',
        payload: { user: `u${i}` },
      });
      statuses.push(res.statusCode);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual([429, 429]);
  });
});

describe('GET /api/messages/:message_id/trace', () => {
  it('answers a member with the trace Jaeger holds and no Jaeger link without a UI', async () => {
    const app = await build();
    const res = await call(app, {
      url: `/api/messages/${MESSAGE_ID}/trace`,
      headers: bearer('alice'),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'found',
      message: {
        message_id: MESSAGE_ID,
        session: 'room',
        seq: 3,
        from: 'bob',
        sent_at: new Date(logic.sentAtMs).toISOString(),
        trace_id: TRACE_ID,
      },
      trace: { traceID: TRACE_ID, spans: [{ spanID: 'a' }] },
      jaeger_url: null,
    });
    expect(logic.calls.at(-1)).toEqual({ messageId: MESSAGE_ID, userId: 'alice' });
  });

  it('answers 404 alike for a non-member, an unknown message and a malformed id', async () => {
    const app = await build();
    const bodies = [];
    for (const [id, user] of [
      [MESSAGE_ID, 'mallory'],
      ['1b5c9f0e-3f55-4f4e-9d4f-5a0c2b1e8d77', 'alice'],
      ['not-a-message', 'alice'],
    ] as const) {
      const res = await call(app, { url: `/api/messages/${id}/trace`, headers: bearer(user) });
      expect(res.statusCode).toBe(404);
      bodies.push(res.json());
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers 401 without a valid bearer token (a query token is not taken)', async () => {
    const app = await build();
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer nope' },
      { authorization: `Bearer ${signToken('alice', 'another-secret-of-at-least-32-chars!!')}` },
      { authorization: `Basic ${signToken('alice', DEV_AUTH_SECRET)}` },
    ]) {
      const res = await call(app, { url: `/api/messages/${MESSAGE_ID}/trace`, headers });
      expect([res.statusCode, res.json().code]).toEqual([401, 'UNAUTHORIZED']);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    const query = await call(app, {
      url: `/api/messages/${MESSAGE_ID}/trace?token=${signToken('alice', DEV_AUTH_SECRET)}`,
    });
    expect(query.statusCode).toBe(401);
  });
});

describe('POST /api/otlp/v1/traces', () => {
  it('forwards spans as service "web" of the token\'s user, with only the allowed attributes', async () => {
    const app = await build();
    const before = collector.requests.length;
    const res = await postSpans(
      app,
      otlpBody(undefined, [
        { key: 'service.name', value: { stringValue: 'logic' } },
        { key: 'enduser.id', value: { stringValue: 'bob' } },
        { key: 'telemetry.sdk.language', value: { stringValue: 'webjs' } },
        { key: 'host.name', value: { stringValue: 'laptop' } },
      ]),
    );
    expect([res.statusCode, res.json()]).toEqual([200, {}]);
    expect(collector.requests).toHaveLength(before + 1);
    const forwarded = collector.requests.at(-1)!;
    expect(forwarded.url).toBe('/v1/traces');
    expect(forwarded.headers['content-type']).toBe('application/json');
    const body = JSON.parse(forwarded.body);
    expect(body.resourceSpans[0].resource.attributes).toEqual([
      { key: 'service.name', value: { stringValue: 'web' } },
      { key: 'enduser.id', value: { stringValue: 'alice' } },
      { key: 'telemetry.sdk.language', value: { stringValue: 'webjs' } },
    ]);
    const span = body.resourceSpans[0].scopeSpans[0].spans[0];
    expect(span).toMatchObject({
      traceId: TRACE_ID,
      name: 'web.chat.send',
      kind: 3,
      status: { code: 2 },
    });
    expect(span.attributes.map((a: { key: string }) => a.key)).toEqual([
      'chat.session.id',
      'chat.message.size',
      'browser.language',
      'error.type',
    ]);
    expect(forwarded.body).not.toContain('hello there');
    expect(forwarded.body).not.toContain('secret');
  });

  it('refuses without a token (401) before reading the body', async () => {
    const app = await build();
    const res = await postSpans(app, 'not even json', { authorization: '' });
    expect([res.statusCode, res.json().code]).toEqual([401, 'UNAUTHORIZED']);
  });

  it('takes JSON only (415)', async () => {
    const app = await build();
    for (const type of ['application/x-protobuf', 'text/plain', 'application/jsonx']) {
      const res = await postSpans(app, JSON.stringify(otlpBody()), { 'content-type': type });
      expect([res.statusCode, res.json().code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    }
    const charset = await postSpans(app, otlpBody(), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(charset.statusCode).toBe(200);
  });

  it('refuses a body over WEB_OTLP_MAX_BYTES (413) and too many spans (413)', async () => {
    const app = await build({ WEB_OTLP_MAX_BYTES: '2048' });
    const big = otlpBody(Array.from({ length: 20 }, () => browserSpan()));
    const res = await postSpans(app, big);
    expect([res.statusCode, res.json().code]).toEqual([413, 'TOO_LARGE']);
    const roomy = await build({ WEB_OTLP_MAX_BYTES: '4MiB' });
    const many = otlpBody(
      Array.from({ length: MAX_SPANS_PER_REQUEST + 1 }, () => browserSpan({ attributes: [] })),
    );
    const tooMany = await postSpans(roomy, many);
    expect([tooMany.statusCode, tooMany.json().code]).toEqual([413, 'TOO_LARGE']);
    expect(tooMany.json().message).toContain(String(MAX_SPANS_PER_REQUEST));
  });

  it.each([
    ['not JSON', '{"resourceSpans": ['],
    ['an array', '[]'],
    ['no spans', JSON.stringify({ resourceSpans: [] })],
    ['resourceSpans not an array', JSON.stringify({ resourceSpans: 'x' })],
    ['a bad trace id', JSON.stringify(otlpBody([browserSpan({ traceId: 'xyz' })]))],
    ['an all-zero trace id', JSON.stringify(otlpBody([browserSpan({ traceId: '0'.repeat(32) })]))],
    ['a bad span id', JSON.stringify(otlpBody([browserSpan({ spanId: 12 })]))],
    ['an end before the start', JSON.stringify(otlpBody([browserSpan({ endTimeUnixNano: '1' })]))],
    ['a kind out of range', JSON.stringify(otlpBody([browserSpan({ kind: 9 })]))],
    ['a name with markup', JSON.stringify(otlpBody([browserSpan({ name: '<script>' })]))],
    ['a prototype key', '{"__proto__": {"x": 1}, "resourceSpans": []}'],
    ['attributes not an array', JSON.stringify(otlpBody([browserSpan({ attributes: {} })]))],
  ])('refuses %s with 400 and stays up', async (_label, body) => {
    const app = await build();
    const res = await postSpans(app, body);
    expect([res.statusCode, res.json().code]).toEqual([400, 'INVALID_REQUEST']);
    expect((await postSpans(app, otlpBody())).statusCode).toBe(200);
  });

  it('rate limits spans per user (429)', async () => {
    const app = await build();
    const batch = otlpBody(Array.from({ length: 500 }, () => browserSpan({ attributes: [] })));
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await postSpans(app, batch)).statusCode);
    expect(statuses).toEqual([200, 200, 429]);
    const bob = await postSpans(app, otlpBody(), bearer('bob'));
    expect(bob.statusCode).toBe(200);
  });

  it('answers 503 when the collector is unreachable or failing', async () => {
    const down = await build({ OTEL_EXPORTER_OTLP_ENDPOINT: await deadUrl() });
    const res = await postSpans(down, otlpBody());
    expect([res.statusCode, res.json().code]).toEqual([503, 'UNAVAILABLE']);
    const failing = await fakeHttpServer((_req, r) => r.writeHead(500).end());
    try {
      const app = await build({ OTEL_EXPORTER_OTLP_ENDPOINT: failing.url });
      expect((await postSpans(app, otlpBody())).statusCode).toBe(503);
    } finally {
      await failing.close();
    }
  });
});

describe('unknown API paths', () => {
  it('are a JSON 404', async () => {
    const app = await build();
    const res = await call(app, { url: '/api/nothing' });
    expect([res.statusCode, res.json()]).toEqual([
      404,
      { code: 'NOT_FOUND', message: 'no endpoint GET /api/nothing' },
    ]);
  });
});
