import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Status, grpc, internalClientOptions, tracechatV1, unary } from '@tracechat/protos';
import type { JournalServiceClient, PlacementServiceClient } from '@tracechat/protos';
import { Client } from 'pg';
import { setup, waitFor } from '@tracechat/testkit';
import type { ChatClient, Frame, TestStack } from '@tracechat/testkit';

let stack: TestStack;
let placement: PlacementServiceClient;
const journals = new Map<string, JournalServiceClient>();

function journal(address: string): JournalServiceClient {
  let client = journals.get(address);
  if (!client) {
    client = new (tracechatV1().JournalService)(address, grpc.credentials.createInsecure(), internalClientOptions(stack.serviceTokens()));
    journals.set(address, client);
  }
  return client;
}

const call = <Req, Res>(client: grpc.Client, method: unknown, req: Req) =>
  unary<Req, Res>(client, method as never, req, 5000);

type Stored = { offset: number; sessionId: string; data: Buffer };
async function readAll(client: JournalServiceClient, shardId: string, from = 0): Promise<Stored[]> {
  const out: Stored[] = [];
  for (let next = from; ; ) {
    const res = await call<object, { records: Stored[]; nextOffset: number }>(client, client.Read, { shardId, fromOffset: next, maxRecords: 500 });
    if (res.records.length === 0) return out;
    out.push(...res.records);
    next = res.nextOffset;
  }
}

/** History from the start, asked again until it holds `count` messages (projection lags the ack by milliseconds). */
async function historyOf(c: ChatClient, room: string, count: number): Promise<Frame[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const history = await c.request({ type: 'history', session: room, after_seq: 0, limit: 200 });
    const messages = history.messages as Frame[];
    if (messages.length >= count || Date.now() > deadline) return messages;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  stack = await setup();
  placement = new (tracechatV1().PlacementService)(`127.0.0.1:${stack.ports.placement}`, grpc.credentials.createInsecure(), internalClientOptions(stack.serviceTokens()));
}, 180_000);

afterAll(async () => {
  placement?.close();
  for (const c of journals.values()) c.close();
  await stack?.cleanup();
});

describe('sessions in shards on journal nodes', () => {
  it('spreads sessions over both journal nodes, and seq is contiguous 1..N per session under concurrent senders on both gateways', async () => {
    const rooms = Array.from({ length: 12 }, (_, i) => stack.session(`spread${i}`));
    const senders: ChatClient[] = [];
    for (let i = 0; i < 4; i++) senders.push(await stack.connect(stack.user(`s${i}`), i % 2 === 0 ? 1 : 2));
    for (const c of senders) for (const room of rooms) await c.request({ type: 'join', session: room, public: true });

    const acks = new Map<string, Frame[][]>(rooms.map((r) => [r, senders.map(() => [])]));
    await Promise.all(
      senders.map(async (c, i) => {
        for (let n = 0; n < 5; n++) {
          for (const room of rooms) acks.get(room)![i]!.push(await c.request({ type: 'send', session: room, text: `${i}:${n}` }));
        }
      }),
    );
    for (const [room, bySender] of acks) {
      const all = bySender.flat().map((a) => Number(a.seq));
      expect([...all].sort((a, b) => a - b)).toEqual(all.map((_, i) => i + 1));
      for (const seqs of bySender.map((list) => list.map((a) => Number(a.seq)))) {
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
      const history = await historyOf(senders[0]!, room, all.length);
      expect(history.map((m) => Number(m.seq))).toEqual(all.map((_, i) => i + 1));
    }
    const shards = await call<object, { shards: { nodeId: string; shardId: string }[] }>(placement, placement.ListShards, {});
    const nodes = new Set(shards.shards.map((s) => s.nodeId));
    expect(nodes).toEqual(new Set(['journal-1', 'journal-2']));
  }, 60_000);

  it('replays a shard: the same messages’ records, in offset order, as history returns them', async () => {
    const room = stack.session('replay');
    const c = await stack.connect(stack.user('replayer'), 1);
    await c.request({ type: 'join', session: room, public: true });
    const acks: Frame[] = [];
    for (let i = 0; i < 6; i++) acks.push(await c.request({ type: 'send', session: room, text: `replay ${i}` }));
    const route = await call<object, { shardId: string; nodeAddress: string }>(placement, placement.LookupShard, { sessionId: room });
    const records = (await readAll(journal(route.nodeAddress), route.shardId)).filter((r) => r.sessionId === room);
    const decoded = records.map((r) => ({ offset: Number(r.offset), ...JSON.parse(Buffer.from(r.data).toString()) }));
    // the journal assigned seq 1..6 in offset order, and the record holds it
    expect(decoded.map((d) => d.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(acks.map((a) => Number(a.seq))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(decoded.map((d) => d.messageId)).toEqual(acks.map((a) => a.message_id));
    expect(decoded.map((d) => d.text)).toEqual(acks.map((_, i) => `replay ${i}`));
    expect(decoded.every((d) => /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/.test(d.traceparent))).toBe(true);

    const history = await historyOf(c, room, 6);
    expect(history.map((m) => [m.message_id, m.seq])).toEqual(decoded.map((d) => [d.messageId, d.seq]));
  });

  it('answers a repeated client_msg_id with the original after the journal node restarts, and continues the seq', async () => {
    const room = stack.session('restart-idem');
    const c = await stack.connect(stack.user('restarter'), 1);
    await c.request({ type: 'join', session: room, public: true });
    const first = await c.request({ type: 'send', session: room, text: 'before', client_msg_id: 'k-1' });
    await c.request({ type: 'send', session: room, text: 'second' });
    const route = await call<object, { nodeId: string }>(placement, placement.LookupShard, { sessionId: room });
    const node = route.nodeId as 'journal-1' | 'journal-2';
    await stack.stopService(node, 'kill');
    await stack.startService(node);

    const again = await c.request({ type: 'send', session: room, text: 'before', client_msg_id: 'k-1' });
    expect(again).toMatchObject({ type: 'ack', message_id: first.message_id, seq: first.seq, duplicate: true });
    const conflict = await c.request({ type: 'send', session: room, text: 'other', client_msg_id: 'k-1' });
    expect(conflict).toMatchObject({ type: 'error', code: 'CONFLICT' });
    const third = await c.request({ type: 'send', session: room, text: 'third' });
    expect(third).toMatchObject({ type: 'ack', seq: 3 });
    const history = await historyOf(c, room, 3);
    expect(history.map((m) => [m.seq, m.text])).toEqual([[1, 'before'], [2, 'second'], [3, 'third']]);
  }, 60_000);

  it('acks the first send made right after its journal node was killed and started again', async () => {
    const room = stack.session('first-after-restart');
    const c = await stack.connect(stack.user('returner'), 1);
    await c.request({ type: 'join', session: room, public: true });
    expect(await c.request({ type: 'send', session: room, text: 'before' })).toMatchObject({ type: 'ack', seq: 1 });
    const route = await call<object, { nodeId: string }>(placement, placement.LookupShard, { sessionId: room });
    const node = route.nodeId as 'journal-1' | 'journal-2';
    await stack.stopService(node, 'kill');
    // sends while it is down fail, and make logic's channel to it fail reconnects and back off
    for (const text of ['down 1', 'down 2']) {
      expect(await c.request({ type: 'send', session: room, text })).toMatchObject({ type: 'error', code: 'UNAVAILABLE' });
    }
    await stack.startService(node);
    expect(await c.request({ type: 'send', session: room, text: 'after' })).toMatchObject({ type: 'ack', seq: 2 });
  }, 60_000);

  it('projects every acked message exactly once, seqs contiguous, across a journal SIGKILL mid-projection', async () => {
    const rooms = Array.from({ length: 4 }, (_, i) => stack.session(`proj${i}`));
    const c1 = await stack.connect(stack.user('proj-a'), 1);
    const c2 = await stack.connect(stack.user('proj-b'), 2);
    for (const c of [c1, c2]) for (const room of rooms) await c.request({ type: 'join', session: room, public: true });
    const acked = new Map<string, string>(); // message id → session
    let stop = false;
    const senders = [c1, c2].flatMap((c, i) =>
      rooms.map(async (room) => {
        for (let n = 0; !stop; n++) {
          const reply = await c.request({ type: 'send', session: room, text: `${i}:${n}` }).catch(() => undefined);
          if (reply?.type === 'ack') acked.set(String(reply.message_id), room);
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 3000));
    await Promise.all([stack.stopService('journal-1', 'kill'), stack.stopService('journal-2', 'kill')]);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(senders);
    await Promise.all([stack.startService('journal-1'), stack.startService('journal-2')]);
    expect(acked.size).toBeGreaterThan(rooms.length * 2);

    const db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      const deadline = Date.now() + 15_000;
      let rows: { id: string; session_id: string; seq: string }[] = [];
      for (;;) {
        ({ rows } = await db.query('SELECT id, session_id, seq FROM messages WHERE session_id = ANY($1) ORDER BY session_id, seq', [rooms]));
        if ([...acked.keys()].every((id) => rows.some((r) => r.id === id)) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const ids = new Set(rows.map((r) => r.id));
      expect(ids.size).toBe(rows.length);
      expect([...acked.keys()].filter((id) => !ids.has(id))).toEqual([]);
      for (const room of rooms) {
        const seqs = rows.filter((r) => r.session_id === room).map((r) => Number(r.seq));
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      }
      const { rows: last } = await db.query('SELECT id, last_seq FROM sessions WHERE id = ANY($1)', [rooms]);
      for (const s of last) expect(Number(s.last_seq)).toBe(rows.filter((r) => r.session_id === s.id).length);
    } finally {
      await db.end();
    }
  }, 90_000);
});

describe('journal node', () => {
  const address = () => `127.0.0.1:${stack.ports.journal1}`;

  it('shares fsyncs between 32 concurrent appenders (group commit)', async () => {
    const before = (await (await fetch(`http://127.0.0.1:${stack.ports.journal1Health}/stats`)).json()) as { appends: number; fsyncs: number };
    const client = journal(address());
    await Promise.all(
      Array.from({ length: 32 }, async (_, i) => {
        for (let n = 0; n < 20; n++) {
          await call(client, client.Append, { shardId: 'group-commit', records: [{ sessionId: `w${i}`, data: Buffer.from(`${i}:${n}`) }] });
        }
      }),
    );
    const after = (await (await fetch(`http://127.0.0.1:${stack.ports.journal1Health}/stats`)).json()) as { appends: number; fsyncs: number };
    const appends = after.appends - before.appends;
    const fsyncs = after.fsyncs - before.fsyncs;
    expect(appends).toBe(640);
    expect(fsyncs).toBeLessThan(appends / 4);
  });

  it('keeps every acknowledged append across a SIGKILL mid-stream, and continues with no gap', async () => {
    const client = journal(address());
    const shardId = `crash-${stack.run}`;
    const acked = new Map<number, string>();
    let stop = false;
    let killed = false;
    const writers = Array.from({ length: 16 }, async (_, i) => {
      for (let n = 0; !stop; n++) {
        const data = Buffer.from(`writer ${i} record ${n} ${'x'.repeat(n % 200)}`);
        try {
          const res = await call<object, { offsets: number[] }>(client, client.Append, { shardId, records: [{ sessionId: `w${i}`, data }] });
          acked.set(Number(res.offsets[0]), createHash('sha256').update(data).digest('hex'));
        } catch (err) {
          // only the kill may end a writer: the node is gone (or the call was cut mid-flight)
          const code = (err as { code?: number }).code;
          if (killed && ([Status.UNAVAILABLE, Status.CANCELLED, Status.INTERNAL] as number[]).includes(code ?? -1)) return;
          throw err;
        }
      }
    });
    const writing = Promise.all(writers);
    await Promise.race([waitFor(() => acked.size > 100, { timeoutMs: 20_000, intervalMs: 20 }), writing]);
    killed = true;
    await stack.stopService('journal-1', 'kill');
    stop = true;
    await writing;
    expect(acked.size).toBeGreaterThan(100);
    await stack.startService('journal-1');

    const records = await readAll(client, shardId);
    const offsets = records.map((r) => Number(r.offset));
    expect(offsets).toEqual(offsets.map((_, i) => i)); // dense from 0, in order
    for (const [offset, digest] of acked) {
      expect(createHash('sha256').update(records[offset]!.data).digest('hex')).toBe(digest);
    }
    const next = await call<object, { offsets: number[] }>(client, client.Append, { shardId, records: [{ sessionId: 'after', data: Buffer.from('after restart') }] });
    expect(Number(next.offsets[0])).toBe(records.length);
  }, 60_000);

  describe('refuses bad input with the right status and writes nothing', () => {
    const shardId = 'bad-input';
    let nextOffset: number;

    beforeAll(async () => {
      const client = journal(address());
      await call(client, client.Append, { shardId, records: [{ sessionId: 's', data: Buffer.from('one') }] });
      nextOffset = Number((await call<object, { nextOffset: number }>(client, client.ShardInfo, { shardId })).nextOffset);
    });

    it.each([
      ['Read of an unknown shard', 'Read', { shardId: 'no-such-shard', fromOffset: 0 }, Status.NOT_FOUND],
      ['ShardInfo of an unknown shard', 'ShardInfo', { shardId: 'no-such-shard' }, Status.NOT_FOUND],
      ['a negative offset', 'Read', { shardId, fromOffset: -1 }, Status.OUT_OF_RANGE],
      ['a future offset', 'Read', { shardId, fromOffset: 1000 }, Status.OUT_OF_RANGE],
      ['an empty batch', 'Append', { shardId, records: [] }, Status.INVALID_ARGUMENT],
      ['an oversize record', 'Append', { shardId, records: [{ sessionId: 's', data: Buffer.alloc(1024 * 1024 + 1) }] }, Status.INVALID_ARGUMENT],
      ['a malformed shard id', 'Append', { shardId: '../etc', records: [{ sessionId: 's', data: Buffer.from('x') }] }, Status.INVALID_ARGUMENT],
    ])('%s', async (_label, method, request, status) => {
      const client = journal(address());
      await expect(call(client, (client as unknown as Record<string, unknown>)[method], request)).rejects.toMatchObject({ code: status });
      const info = await call<object, { nextOffset: number }>(client, client.ShardInfo, { shardId });
      expect(Number(info.nextOffset)).toBe(nextOffset);
    });

    it.each([
      ['an empty node id', { nodeId: '', address: '127.0.0.1:1' }],
      ['a malformed address', { nodeId: 'n1', address: 'nowhere' }],
      ['a port out of range', { nodeId: 'n1', address: '127.0.0.1:70000' }],
    ])('placement refuses a node registration with %s', async (_label, request) => {
      await expect(call(placement, placement.RegisterNode, request)).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
      const nodes = await call<object, { nodes: { nodeId: string }[] }>(placement, placement.ListNodes, {});
      expect(nodes.nodes.map((n) => n.nodeId).sort()).toEqual(['journal-1', 'journal-2']);
    });
  });
});

describe('a journal node that lost a shard', () => {
  it('refuses the shard loudly (sends UNAVAILABLE, node not ready) instead of starting it again at offset 0, and takes it again once restored', async () => {
    const room = stack.session('lost');
    const c = await stack.connect(stack.user('loser'), 1);
    await c.request({ type: 'join', session: room, public: true });
    await c.request({ type: 'send', session: room, text: 'kept in history' });
    await historyOf(c, room, 1);
    const route = await call<object, { nodeId: string; shardId: string }>(placement, placement.LookupShard, { sessionId: room });
    const node = route.nodeId as 'journal-1' | 'journal-2';
    const shardDir = join(stack.dataDir, node, 'shards', route.shardId);
    const kept = mkdtempSync(join(tmpdir(), 'tracechat-lost-shard-'));
    await stack.stopService(node);
    cpSync(shardDir, kept, { recursive: true });
    rmSync(shardDir, { recursive: true, force: true });
    await stack.startService(node);
    const health = node === 'journal-1' ? stack.ports.journal1Health : stack.ports.journal2Health;
    try {
      expect(await c.request({ type: 'send', session: room, text: 'after the loss' })).toMatchObject({ type: 'error', code: 'UNAVAILABLE' });
      expect((await fetch(`http://127.0.0.1:${health}/readyz`)).status).toBe(503);
      const history = await c.request({ type: 'history', session: room, after_seq: 0, limit: 10 });
      expect((history.messages as Frame[]).map((m) => [m.seq, m.text])).toEqual([[1, 'kept in history']]);
    } finally {
      // the other tests of this file share the node: give it its shard back
      await stack.stopService(node);
      rmSync(shardDir, { recursive: true, force: true });
      cpSync(kept, shardDir, { recursive: true });
      rmSync(kept, { recursive: true, force: true });
      await stack.startService(node);
    }
    expect((await fetch(`http://127.0.0.1:${health}/readyz`)).status).toBe(200);
    expect(await c.request({ type: 'send', session: room, text: 'restored' })).toMatchObject({ type: 'ack', seq: 2 });
  }, 60_000);
});
