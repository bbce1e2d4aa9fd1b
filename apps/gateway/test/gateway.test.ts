import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { DEV_AUTH_SECRET, signToken } from '@tracechat/contracts';
import { createLogger } from '@tracechat/telemetry';
import { buildGateway, loadConfig } from '../src';
import type { Gateway } from '../src';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = 'gateway-test-admin-token';

interface Started {
  readonly gateway: Gateway;
  readonly port: number;
  readonly adminPort: number;
  readonly prefix: string;
}

const started: Started[] = [];

/** A gateway on free ports with its own Redis prefix; logic is never called by these tests. */
async function start(env: Record<string, string> = {}): Promise<Started> {
  const prefix = `test:gw-${randomBytes(4).toString('hex')}:`;
  const config = loadConfig({
    GATEWAY_PORT: '0',
    ADMIN_PORT: '0',
    MQTT_PORT: '0',
    PUSH_GRPC_ADDRESS: '127.0.0.1:0',
    LOGIC_ADDRESS: '127.0.0.1:1',
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    ADMIN_TOKEN,
    SERVICE_SECRET: 'a-service-secret-of-at-least-32-characters',
    ...env,
  });
  const gateway = buildGateway(config, createLogger({ name: 'gateway-test', level: 'silent' }));
  const { port, adminPort } = await gateway.listen();
  const s = { gateway, port, adminPort, prefix };
  started.push(s);
  return s;
}

afterAll(async () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  for (const s of started) {
    await s.gateway.close();
    const keys = await redis.keys(`${s.prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
});

interface Upgrade {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly ws?: WebSocket;
}

const sockets: WebSocket[] = [];
afterEach(() => {
  for (const ws of sockets.splice(0)) ws.terminate();
});

/** Opens a WebSocket; resolves with 101 and the socket, or the refusal's status and headers. */
function upgrade(port: number, token: string | undefined, headers: Record<string, string> = {}) {
  return new Promise<Upgrade>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    ws.once('open', () => {
      sockets.push(ws);
      resolve({ status: 101, headers: {}, ws });
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

const token = (user: string, ttl = 600) => signToken(user, DEV_AUTH_SECRET, ttl);

describe('the admin API on its own port', () => {
  it('is served on the admin port behind the token, and the public port answers 404', async () => {
    const { port, adminPort } = await start();
    expect(adminPort).not.toBe(port);
    const path = '/admin/sampling/whitelist';
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    expect((await fetch(`http://127.0.0.1:${port}${path}`, { headers: auth })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${adminPort}${path}`)).status).toBe(401);
    const listed = await fetch(`http://127.0.0.1:${adminPort}${path}`, { headers: auth });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ users: [], sessions: [] });
    // the probes stay on the public port
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});

describe('connection limits at the upgrade', () => {
  it('refuses the connection past the per-user limit with 429 and Retry-After, and reuses a freed slot', async () => {
    const { port } = await start({ WS_MAX_CONNECTIONS_PER_USER: '2' });
    const first = await upgrade(port, token('alice'));
    const second = await upgrade(port, token('alice'));
    expect([first.status, second.status]).toEqual([101, 101]);
    const third = await upgrade(port, token('alice'));
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('10');
    // another user is not affected
    expect((await upgrade(port, token('bob'))).status).toBe(101);
    first.ws!.close();
    await new Promise((resolve) => first.ws!.once('close', resolve));
    await waitUntil(async () => (await upgrade(port, token('alice'))).status === 101);
  });

  it('refuses past the per-address and total limits', async () => {
    const perAddress = await start({ WS_MAX_CONNECTIONS_PER_ADDRESS: '2' });
    expect((await upgrade(perAddress.port, token('a1'))).status).toBe(101);
    expect((await upgrade(perAddress.port, token('a2'))).status).toBe(101);
    expect((await upgrade(perAddress.port, token('a3'))).status).toBe(429);

    const total = await start({ WS_MAX_CONNECTIONS: '1' });
    expect((await upgrade(total.port, token('t1'))).status).toBe(101);
    const refused = await upgrade(total.port, token('t2'));
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('10');
  });

  it('does not count refused (401) upgrades', async () => {
    const { port } = await start({ WS_MAX_CONNECTIONS: '1' });
    for (let i = 0; i < 3; i++) expect((await upgrade(port, 'not-a-token')).status).toBe(401);
    expect((await upgrade(port, token('alice'))).status).toBe(101);
  });
});

describe('Origin at the upgrade', () => {
  it("allows no Origin and the gateway's own, refuses others with 403", async () => {
    const { port } = await start();
    expect((await upgrade(port, token('alice'))).status).toBe(101);
    expect(
      (await upgrade(port, token('alice'), { origin: `http://127.0.0.1:${port}` })).status,
    ).toBe(101);
    expect(
      (await upgrade(port, token('alice'), { origin: 'https://evil.example.com' })).status,
    ).toBe(403);
    expect((await upgrade(port, token('alice'), { origin: 'null' })).status).toBe(403);
  });

  it('allows the origins of ALLOWED_ORIGINS', async () => {
    const { port } = await start({ ALLOWED_ORIGINS: 'https://app.example.com' });
    expect(
      (await upgrade(port, token('alice'), { origin: 'https://app.example.com' })).status,
    ).toBe(101);
    expect(
      (await upgrade(port, token('alice'), { origin: 'https://other.example.com' })).status,
    ).toBe(403);
  });
});

describe('token expiry on an open connection', () => {
  it('sends UNAUTHORIZED "token expired" and closes with 4401 when the token expires', async () => {
    const { port } = await start();
    const { ws } = await upgrade(port, token('alice', 2));
    const frames: unknown[] = [];
    ws!.on('message', (data) => frames.push(JSON.parse(data.toString())));
    const opened = Date.now();
    const [code, reason] = await new Promise<[number, string]>((resolve) =>
      ws!.once('close', (c, r) => resolve([c, r.toString()])),
    );
    expect(Date.now() - opened).toBeGreaterThanOrEqual(900);
    expect(Date.now() - opened).toBeLessThan(4500);
    expect(frames).toEqual([
      { type: 'error', id: null, code: 'UNAUTHORIZED', message: 'token expired', trace_id: null },
    ]);
    expect([code, reason]).toEqual([4401, 'token expired']);
  });

  it('refuses a token without exp at the upgrade', async () => {
    const { port } = await start();
    const noExp = signToken('alice', DEV_AUTH_SECRET, 60, Date.now(), { exp: undefined });
    expect((await upgrade(port, noExp)).status).toBe(401);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
