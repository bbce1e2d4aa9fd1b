import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ServiceTokens,
  Status,
  grpc,
  internalClientOptions,
  signServiceToken,
  tracechatV1,
  unary,
} from '@tracechat/protos';
import type { ServiceIdentity } from '@tracechat/protos';
import { setup, waitFor } from '@tracechat/testkit';
import type { Frame, TestStack } from '@tracechat/testkit';

let stack: TestStack;
const clients: grpc.Client[] = [];

beforeAll(async () => {
  stack = await setup();
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await stack?.cleanup();
});

type Proto = ReturnType<typeof tracechatV1>;
type ServiceKey = 'PushService' | 'ChatService' | 'PlacementService' | 'JournalService';

/**
 * Every internal gRPC port of the stack (by its name in `stack.ports`), a method with no side
 * effect, and a service that may not call it.
 */
const PORTS = [
  ['gateway-1 PushService', 'push1', 'PushService', 'Deliver', {}, 'logic'],
  ['gateway-2 PushService', 'push2', 'PushService', 'Deliver', {}, 'logic'],
  ['logic ChatService', 'logic', 'ChatService', 'ListMembers', {}, 'journal'],
  ['placement PlacementService', 'placement', 'PlacementService', 'ListNodes', {}, 'gateway'],
  ['journal-1 JournalService', 'journal1', 'JournalService', 'ShardInfo', { shardId: 'x' }, 'gateway'],
  ['journal-2 JournalService', 'journal2', 'JournalService', 'ShardInfo', { shardId: 'x' }, 'task'],
] as const;

function client(service: ServiceKey, port: keyof TestStack['ports'], options: grpc.ClientOptions = {}): grpc.Client {
  const Client = (tracechatV1() as Proto)[service];
  const c = new Client(`127.0.0.1:${stack.ports[port]}`, grpc.credentials.createInsecure(), options);
  clients.push(c);
  return c;
}

/** Calls `method` with `authorization` set to `auth` (none when undefined). */
function call(c: grpc.Client, method: string, request: object, auth?: string): Promise<unknown> {
  const metadata = new grpc.Metadata();
  if (auth !== undefined) metadata.set('authorization', `Bearer ${auth}`);
  return unary(c, (c as unknown as Record<string, never>)[method], request, 5000, metadata);
}

const tokenOf = (identity: ServiceIdentity, secret = stack.serviceSecret, ageMs = 0) =>
  signServiceToken(identity, secret, Date.now() - ageMs);

describe('every internal port', () => {
  it.each(PORTS.map((p) => [p[0], p] as const))('%s refuses a caller without a valid token: UNAUTHENTICATED', async (_name, [, port, service, method, request]) => {
    const c = client(service, port);
    const cases: [string, string | undefined][] = [
      ['no token', undefined],
      ['another secret', tokenOf({ service: 'cli' }, 'not-this-stacks-secret-0123456789abcdef')],
      ['expired', tokenOf({ service: 'cli' }, stack.serviceSecret, 200_000)],
      ['garbage', 'a.b.c'],
    ];
    const answers: [string, number | undefined, string | undefined][] = [];
    for (const [what, auth] of cases) {
      const err = (await call(c, method, request, auth).then(
        () => undefined,
        (e: unknown) => e,
      )) as { code?: number; details?: string } | undefined;
      answers.push([what, err?.code, err?.details?.replace(/:.*/, '')]);
    }
    expect(answers).toEqual(cases.map(([what]) => [what, Status.UNAUTHENTICATED, expect.stringMatching(/^service token/)]));
  });

  it.each(PORTS.map((p) => [p[0], p[5], p] as const))('%s refuses a valid %s token: PERMISSION_DENIED', async (_name, caller, [, port, service, method, request]) => {
    const c = client(service, port, internalClientOptions(new ServiceTokens({ service: caller }, stack.serviceSecret)));
    await expect(call(c, method, request)).rejects.toMatchObject({
      code: Status.PERMISSION_DENIED,
      details: `${caller} may not call tracechat.v1.${service}`,
    });
  });

  it('logs each refusal with its reason and peer, never the token', async () => {
    const token = tokenOf({ service: 'cli' }, 'not-this-stacks-secret-0123456789abcdef');
    const c = client('PlacementService', 'placement');
    await expect(call(c, 'ListNodes', {}, token)).rejects.toMatchObject({ code: Status.UNAUTHENTICATED });
    const log = join(stack.logDir, 'placement.log');
    const lines = await waitFor(() => {
      const found = readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.includes('internal call refused') && l.includes('bad_signature'));
      return found.length > 0 ? found : undefined;
    });
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 40,
      refusal: { code: Status.UNAUTHENTICATED, reason: 'bad_signature', service: 'tracechat.v1.PlacementService', method: 'ListNodes', peer: expect.stringContaining('127.0.0.1') },
    });
    expect(readFileSync(log, 'utf8')).not.toContain(token.split('.')[2]!);
  });
});

describe('journal node registration', () => {
  const journal1 = () => `127.0.0.1:${stack.ports.journal1}`;
  let placement: grpc.Client;
  beforeAll(() => {
    placement = client('PlacementService', 'placement', internalClientOptions(stack.serviceTokens()));
  });
  const nodes = async () =>
    ((await call(placement, 'ListNodes', {})) as { nodes: { nodeId: string; address: string; status: string }[] }).nodes.map((n) => [n.nodeId, n.address]);

  it('is refused to another node’s identity, and to the right identity at another address while the node is up', async () => {
    const register = (as: ServiceIdentity, address: string) =>
      call(placement, 'RegisterNode', { nodeId: 'journal-1', address }, tokenOf(as));
    await expect(register({ service: 'journal', node: 'journal-2' }, journal1())).rejects.toMatchObject({
      code: Status.PERMISSION_DENIED,
      details: 'journal/journal-2 may not act for journal node journal-1',
    });
    await expect(register({ service: 'logic' }, '127.0.0.1:1')).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    await expect(
      call(placement, 'Heartbeat', { nodeId: 'journal-1' }, tokenOf({ service: 'journal', node: 'journal-2' })),
    ).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    await expect(register({ service: 'journal', node: 'journal-1' }, '127.0.0.1:1')).rejects.toMatchObject({
      code: Status.ALREADY_EXISTS,
      details: expect.stringMatching(/journal-1 is up at another address/),
    });
    expect(await nodes()).toEqual([
      ['journal-1', journal1()],
      ['journal-2', `127.0.0.1:${stack.ports.journal2}`],
    ]);
  });

  it('leaves the chat working: a message sent on one gateway reaches a member on the other', async () => {
    const room = stack.session('after-impostors');
    const alice = await stack.connect(stack.user('alice'), 1);
    const bob = await stack.connect(stack.user('bob'), 2);
    for (const c of [alice, bob]) await c.request({ type: 'join', session: room, public: true });
    const ack = await alice.request({ type: 'send', session: room, text: 'still here' });
    expect(ack).toMatchObject({ type: 'ack', seq: 1 });
    expect(await bob.waitFor((f: Frame) => f.type === 'message' && f.message_id === ack.message_id)).toMatchObject({
      text: 'still here',
      from: stack.user('alice'),
    });
  });
});

describe('JournalService.Read', () => {
  let journal: grpc.Client;
  beforeAll(() => {
    journal = client('JournalService', 'journal1', internalClientOptions(stack.serviceTokens()));
  });
  type Read = { records: { offset: number; data: Buffer }[]; nextOffset: number };

  it('returns at most 1000 records, whatever max_records asks', async () => {
    const shardId = `read-records-${stack.run}`;
    const records = Array.from({ length: 1200 }, (_, i) => ({ sessionId: 's', data: Buffer.from(`r${i}`) }));
    await call(journal, 'Append', { shardId, records });
    for (const maxRecords of [0, 1001, 4_000_000_000]) {
      const read = (await call(journal, 'Read', { shardId, fromOffset: 0, maxRecords })) as Read;
      expect([maxRecords, read.records.length, Number(read.nextOffset)]).toEqual([maxRecords, 1000, 1000]);
    }
    const small = (await call(journal, 'Read', { shardId, fromOffset: 1000, maxRecords: 7 })) as Read;
    expect(small.records.map((r) => Number(r.offset))).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006]);
  });

  it('returns at most 3 MiB of data whatever max_bytes asks, so the answer fits a default gRPC client, and logs the lowering', async () => {
    const shardId = `read-bytes-${stack.run}`;
    const record = Buffer.alloc(100 * 1024, 7);
    // two appends: a request is held to gRPC's default 4 MiB as well
    for (let i = 0; i < 2; i++) {
      await call(journal, 'Append', { shardId, records: Array.from({ length: 30 }, () => ({ sessionId: 's', data: record })) });
    }
    const read = (await call(journal, 'Read', { shardId, fromOffset: 0, maxBytes: 4_000_000_000 })) as Read;
    const bytes = read.records.reduce((sum, r) => sum + r.data.length, 0);
    expect(bytes).toBeLessThanOrEqual(3 * 1024 * 1024);
    expect(read.records.length).toBeGreaterThanOrEqual(30);
    const log = join(stack.logDir, 'journal-1.log');
    await waitFor(() => readFileSync(log, 'utf8').includes('read limit lowered to the node maximum'));
  });
});
