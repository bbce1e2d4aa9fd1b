import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_AUTH_SECRET, signToken } from '@tracechat/contracts';
import { ChatClient, UpgradeRefused, setup, waitFor } from '@tracechat/testkit';
import type { Frame, TestStack } from '@tracechat/testkit';

// A whole chat across both gateways, then every log line the stack wrote and every span Jaeger
// holds for the run, searched for what must never be there: message text, tokens, secrets and
// the database password. Postgres trusts local connections, so the password in DATABASE_URL is
// accepted and never checked: it travels everywhere the URL does.
const tag = randomBytes(6).toString('hex');
const dbPassword = `pg-pass-${tag}`;
let stack: TestStack;

/** Needles: name → value. Each must appear nowhere. */
const needles = new Map<string, string>();
const text = (label: string) => {
  const value = `text-${label}-${tag}`;
  needles.set(`message text "${label}"`, value);
  return value;
};

beforeAll(async () => {
  stack = await setup({
    databaseBaseUrl: `postgres://postgres:${dbPassword}@127.0.0.1:5432`,
    env: { LOG_LEVEL: 'trace' },
  });
}, 600_000);

afterAll(async () => {
  await stack?.cleanup();
});

/** Every log file of the stack (the journal's data folder holds message records by design). */
function logCorpus(): string {
  const files = readdirSync(stack.logDir)
    .map((f) => join(stack.logDir, f))
    .filter((f) => statSync(f).isFile());
  expect(files.map((f) => f.slice(stack.logDir.length + 1)).sort()).toEqual(
    expect.arrayContaining(['gateway-1.log', 'gateway-2.log', 'journal-1.log', 'logic.log', 'placement.log', 'task.log']),
  );
  return files.map((f) => readFileSync(f, 'utf8')).join('\n');
}

/** Every span of the run, as Jaeger's API returns them, for every service it knows. */
async function spanCorpus(): Promise<string> {
  const services = ((await (await fetch(`${stack.jaegerUrl}/api/services`)).json()) as { data: string[] }).data;
  const end = Date.now() * 1000;
  const bodies = await Promise.all(
    services.map(async (service) => {
      const params = new URLSearchParams({ service, start: String(end - 3_600_000_000), end: String(end), limit: '10000' });
      return (await fetch(`${stack.jaegerUrl}/api/traces?${params}`)).text();
    }),
  );
  return bodies.join('\n');
}

it('no log line and no span holds message text, a token, a secret or the database password', async () => {
  const alice = stack.user('alice');
  const bob = stack.user('bob');
  const aliceToken = signToken(alice, DEV_AUTH_SECRET);
  const bobToken = signToken(bob, DEV_AUTH_SECRET, 600);
  const forged = signToken(alice, `not-the-secret-${tag}`);
  const garbage = `garbage-token-${tag}`;
  needles.set('alice token', aliceToken);
  needles.set('bob token', bobToken);
  needles.set('forged token', forged);
  needles.set('garbage token', garbage);
  needles.set('AUTH_SECRET', DEV_AUTH_SECRET);
  needles.set('admin token', stack.adminToken);
  needles.set('database password', dbPassword);
  needles.set('SERVICE_SECRET', stack.serviceSecret);

  const a = await ChatClient.connect(stack.gatewayUrls[0], { token: aliceToken });
  const b = await ChatClient.connect(stack.gatewayUrls[1], { token: bobToken, tokenInQuery: true });
  try {
    const room = stack.session('room');
    const secretRoom = stack.session('private');
    expect(await a.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    expect(await b.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
    expect(await a.request({ type: 'join', session: secretRoom })).toMatchObject({ type: 'joined' });
    expect(await a.request({ type: 'invite', session: secretRoom, user: bob })).toMatchObject({ type: 'invited' });

    // sends both ways, a retried send, a debug frame, a client traceparent
    const sent: Frame[] = [];
    for (const [client, session, label, extra] of [
      [a, room, 'a1', {}],
      [b, room, 'b1', { debug: true }],
      [a, secretRoom, 'a2', { client_msg_id: `cm-${tag}` }],
      [a, room, 'a3', { traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` }],
    ] as const) {
      const ack = await client.request({ type: 'send', session, text: text(label), ...extra });
      expect(ack.type).toBe('ack');
      sent.push(ack);
    }
    expect(
      await a.request({ type: 'send', session: secretRoom, text: text('a2'), client_msg_id: `cm-${tag}` }),
    ).toMatchObject({ type: 'ack', duplicate: true });
    expect(
      await a.request({ type: 'send', session: secretRoom, text: text('conflict'), client_msg_id: `cm-${tag}` }),
    ).toMatchObject({ type: 'error', code: 'CONFLICT' });
    for (const ack of sent) {
      const pushed = await waitFor(() => [...a.received, ...b.received].find((f) => f.type === 'message' && f.message_id === ack.message_id));
      (pushed.from === alice ? b : a).send({ type: 'received', message_id: pushed.message_id, traceparent: pushed.traceparent });
    }
    await waitFor(async () => {
      const history = await b.request({ type: 'history', session: room, after_seq: 0, limit: 10 });
      return (history.messages as Frame[]).length === 3;
    });

    // refusals: a non-member's send, a bad frame, a frame that is not JSON, a frame over the size limit
    const outsider = await stack.connect(stack.user('outsider'), 2);
    expect(await outsider.request({ type: 'send', session: secretRoom, text: text('forbidden') })).toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
    });
    outsider.sendRaw(JSON.stringify({ type: 'sned', id: 'bad', session: room, text: text('bad-type') }));
    outsider.sendRaw(`{"type":"send","id":"cut","session":"${room}","text":"${text('not-json')}"`);
    outsider.sendRaw(JSON.stringify({ type: 'send', id: 'empty', session: room, text: '', token: garbage }));
    expect(await outsider.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    const big = await stack.connect(stack.user('big'), 1);
    big.sendRaw(JSON.stringify({ type: 'send', id: 'huge', session: room, text: `${text('huge')} ${'y'.repeat(20_000)}` }));
    await waitFor(() => big.closed !== undefined, { what: 'the oversized frame closing the connection' });

    // wrong tokens at the upgrade, in the header and in the query
    for (const [token, inQuery] of [[forged, false], [garbage, true], [garbage, false]] as const) {
      await expect(ChatClient.connect(stack.gatewayUrls[0], { token, tokenInQuery: inQuery })).rejects.toEqual(
        new UpgradeRefused(401),
      );
    }
    // the admin API, with its token and with a wrong one
    expect((await stack.admin('PUT', `/admin/sampling/whitelist/users/${alice}`)).status).toBe(201);
    const wrongAdmin = await fetch(`${stack.adminUrls[0]}/admin/sampling/whitelist`, {
      headers: { authorization: `Bearer ${garbage}` },
    });
    expect(wrongAdmin.status).toBe(401);
    expect(await b.request({ type: 'leave', session: room })).toMatchObject({ type: 'left' });
  } finally {
    await Promise.allSettled([a.close(), b.close()]);
  }

  // every span of the chat is in Jaeger (down to the deliveries); log lines are written as they happen
  await waitFor(async () => (await spanCorpus()).includes('gateway.ws.delivery_ack') || undefined, { timeoutMs: 30_000, what: 'the delivery spans in Jaeger' });
  const spans = await spanCorpus();
  const logs = logCorpus();

  // controls: the scan reads real content (ids the chat used are there), so an absence means something
  expect(spans).toContain(alice);
  expect(spans).toContain(stack.session('private'));
  expect(logs).toContain('"msg":"logic listening"');

  const found = [...needles].flatMap(([name, value]) => [
    ...(logs.includes(value) ? [`logs: ${name}`] : []),
    ...(spans.includes(value) ? [`spans: ${name}`] : []),
  ]);
  expect(found).toEqual([]);
}, 240_000);
