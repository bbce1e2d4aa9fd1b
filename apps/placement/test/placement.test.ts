import { NodeStatus, Status } from '@tracechat/protos';
import type { LookupShardResponse__Output } from '@tracechat/protos';
import { countRows } from '@tracechat/testkit';
import type { PlacementKit } from '@tracechat/testkit';
import { PlacementError, shardOf } from '../src';
import { setup } from './placement-kit';

const SHARDS = 16;

/** Lets time pass (node leases expire by the clock; nothing here waits for an event). */
const elapse = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One session id per shard for `count` different shards, skipping shards in `taken`. */
function sessionsOnNewShards(count: number, prefix: string, taken = new Set<string>()): string[] {
  const found = new Map<string, string>();
  for (let i = 0; found.size < count; i++) {
    const session = `${prefix}-${i}`;
    const shard = String(shardOf(session, SHARDS));
    if (!taken.has(shard) && !found.has(shard)) found.set(shard, session);
  }
  return [...found.values()];
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

describe('placement service', () => {
  let kit: PlacementKit;

  beforeAll(async () => {
    kit = await setup();
  });
  afterEach(() => kit.reset());
  afterAll(() => kit.cleanup());

  it('spreads sessions fairly over two nodes and keeps each on its shard, across a restart', async () => {
    const first = await kit.start();
    const nodes = new Map([
      ['journal-1', '127.0.0.1:50054'],
      ['journal-2', '127.0.0.1:50064'],
    ]);
    for (const [nodeId, address] of nodes) {
      expect(await first.client.registerNode({ nodeId, address })).toEqual({ leaseMs: 10_000 });
    }
    const sessions = Array.from({ length: 200 }, (_, i) => `session-${i}`);

    const answers = await Promise.all(
      sessions.map((sessionId) => first.client.lookupShard({ sessionId })),
    );
    answers.forEach((answer, i) => {
      expect(answer.shardId).toBe(String(shardOf(sessions[i]!, SHARDS)));
      expect(answer.nodeAddress).toBe(nodes.get(answer.nodeId));
      expect(answer.nodeUp).toBe(true);
    });
    expect(answers.filter((a) => a.created)).toHaveLength(SHARDS);
    const bySession = new Map(sessions.map((s, i) => [s, answers[i]!]));

    const { shards, shardCount } = await first.client.listShards();
    expect(shardCount).toBe(SHARDS);
    expect(shards.map((s) => s.shardId)).toEqual(Array.from({ length: SHARDS }, (_, i) => `${i}`));
    const listed = await first.client.listNodes();
    expect(listed.nodes.map((n) => [n.nodeId, n.address, n.status, n.shardCount])).toEqual([
      ['journal-1', '127.0.0.1:50054', NodeStatus.NODE_STATUS_UP, 8],
      ['journal-2', '127.0.0.1:50064', NodeStatus.NODE_STATUS_UP, 8],
    ]);
    const sessionsPerNode = countBy(answers, (a) => a.nodeId);
    expect(sessionsPerNode.get('journal-1')).toBeGreaterThanOrEqual(70);
    expect(sessionsPerNode.get('journal-2')).toBeGreaterThanOrEqual(70);

    const unchanged = (answer: LookupShardResponse__Output, sessionId: string) =>
      expect(answer).toEqual({ ...bySession.get(sessionId)!, created: false });
    for (const sessionId of sessions.slice(0, 50)) {
      unchanged(await first.client.lookupShard({ sessionId }), sessionId);
    }

    const ready = await fetch(`http://127.0.0.1:${first.healthPort}/readyz`);
    expect(ready.status).toBe(200);
    await first.stop();
    const second = await kit.start();
    for (const sessionId of sessions) {
      unchanged(await second.client.lookupShard({ sessionId }), sessionId);
    }
    expect(await countRows(kit.pool)).toEqual({ nodes: 2, shards: SHARDS });
    await second.stop();
  }, 30_000);

  it('creates a shard exactly once under concurrent first lookups from several instances', async () => {
    const instances = await Promise.all([kit.start(), kit.start(), kit.start()]);
    const [a] = instances;
    await a!.client.registerNode({ nodeId: 'journal-1', address: 'journal-1:50054' });
    await a!.client.registerNode({ nodeId: 'journal-2', address: 'journal-2:50054' });
    await a!.client.registerNode({ nodeId: 'journal-3', address: 'journal-3:50054' });

    const same = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        instances[i % instances.length]!.client.lookupShard({ sessionId: 'hot-session' }),
      ),
    );
    expect(same.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(same.map((r) => `${r.shardId}@${r.nodeId}`)).size).toBe(1);
    expect(same[0]!.nodeId).toBe('journal-1');
    expect(await countRows(kit.pool)).toEqual({ nodes: 3, shards: 1 });

    const sessions = Array.from({ length: 60 }, (_, i) => `burst-${i}`);
    const burst = await Promise.all(
      sessions.map((sessionId, i) =>
        instances[i % instances.length]!.client.lookupShard({ sessionId }),
      ),
    );
    const shardIds = new Set([same[0]!.shardId, ...burst.map((r) => r.shardId)]);
    expect(await countRows(kit.pool)).toEqual({ nodes: 3, shards: shardIds.size });
    expect([...same, ...burst].filter((r) => r.created)).toHaveLength(shardIds.size);
    const nodeOfShard = new Map<string, string>();
    for (const r of [...same, ...burst]) {
      expect(nodeOfShard.get(r.shardId) ?? r.nodeId).toBe(r.nodeId);
      nodeOfShard.set(r.shardId, r.nodeId);
    }
    const perNode = [...countBy([...nodeOfShard.values()], (n) => n).values()];
    expect(Math.max(...perNode) - Math.min(...perNode)).toBeLessThanOrEqual(1);
    await Promise.all(instances.map((i) => i.stop()));
  });

  it('reports a node that misses heartbeats as down and gives it no new shards', async () => {
    const placement = await kit.start({ NODE_LEASE_MS: '600' });
    const { client } = placement;
    expect(await client.registerNode({ nodeId: 'alive', address: '10.0.0.1:50054' })).toEqual({
      leaseMs: 600,
    });
    await client.registerNode({ nodeId: 'lapsed', address: '10.0.0.2:50054' });
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      await client.heartbeat({ nodeId: 'alive' });
      await elapse(100);
    }

    const { nodes } = await client.listNodes();
    expect(nodes.map((n) => [n.nodeId, n.status])).toEqual([
      ['alive', NodeStatus.NODE_STATUS_UP],
      ['lapsed', NodeStatus.NODE_STATUS_DOWN],
    ]);
    expect(nodes[0]!.lastHeartbeatMs).toBeGreaterThan(nodes[1]!.lastHeartbeatMs + 500);
    expect(nodes[1]!.registeredAtMs).toBe(nodes[1]!.lastHeartbeatMs);

    const firstWave = sessionsOnNewShards(4, 'wave1');
    const placed = await Promise.all(
      firstWave.map((sessionId) => client.lookupShard({ sessionId })),
    );
    expect(placed.map((p) => [p.nodeId, p.created, p.nodeUp])).toEqual(
      firstWave.map(() => ['alive', true, true]),
    );
    await expect(client.heartbeat({ nodeId: 'journal-9' })).rejects.toMatchObject({
      code: Status.NOT_FOUND,
    });

    await elapse(800);
    const taken = new Set(placed.map((p) => p.shardId));
    const [fresh] = sessionsOnNewShards(1, 'wave2', taken);
    await expect(client.lookupShard({ sessionId: fresh! })).rejects.toMatchObject({
      code: Status.UNAVAILABLE,
    });
    expect(await client.lookupShard({ sessionId: firstWave[0]! })).toMatchObject({
      nodeId: 'alive',
      nodeUp: false,
      created: false,
    });
    expect((await client.listShards()).shards.every((s) => !s.nodeUp)).toBe(true);
    expect(await countRows(kit.pool)).toEqual({ nodes: 2, shards: 4 });

    await client.registerNode({ nodeId: 'lapsed', address: '10.0.0.3:50054' });
    expect(await client.lookupShard({ sessionId: fresh! })).toMatchObject({
      nodeId: 'lapsed',
      nodeAddress: '10.0.0.3:50054',
      nodeUp: true,
      created: true,
    });
    await client.heartbeat({ nodeId: 'alive' });
    expect(await client.lookupShard({ sessionId: firstWave[0]! })).toMatchObject({
      nodeId: 'alive',
      nodeUp: true,
    });
    await placement.stop();
  });

  it('follows a node that re-registers at a new address once its lease ran out', async () => {
    const placement = await kit.start({ NODE_LEASE_MS: '300' });
    const { client } = placement;
    await client.registerNode({ nodeId: 'journal-1', address: 'old-host:50054' });
    const before = await client.lookupShard({ sessionId: 'moving-address' });
    // a restart at the same address is taken at once
    expect(await client.registerNode({ nodeId: 'journal-1', address: 'old-host:50054' })).toEqual({
      leaseMs: 300,
    });
    await elapse(400);
    await client.registerNode({ nodeId: 'journal-1', address: '[::1]:50070' });
    const after = await client.lookupShard({ sessionId: 'moving-address' });
    expect(after).toEqual({ ...before, nodeAddress: '[::1]:50070', created: false });
    expect((await client.listNodes()).nodes.map((n) => n.address)).toEqual(['[::1]:50070']);
    await placement.stop();
  });

  it('refuses a second process the id of a node that is up at another address', async () => {
    const placement = await kit.start();
    const { client } = placement;
    await client.registerNode({ nodeId: 'journal-1', address: '10.0.0.1:50054' });
    await expect(
      client.registerNode({ nodeId: 'journal-1', address: '10.0.0.2:50054' }),
    ).rejects.toMatchObject({
      code: Status.ALREADY_EXISTS,
      details: expect.stringMatching(/journal-1 is up at another address/),
    });
    expect((await client.listNodes()).nodes.map((n) => [n.nodeId, n.address])).toEqual([
      ['journal-1', '10.0.0.1:50054'],
    ]);
    await placement.stop();
  });

  it('takes a registration or heartbeat only from the journal node it names', async () => {
    const placement = await kit.start();
    const { client } = placement;
    await client.registerNode({ nodeId: 'journal-1', address: '10.0.0.1:50054' });
    const impostors = [
      { service: 'journal', node: 'journal-2' },
      { service: 'journal' },
      { service: 'logic' },
      { service: 'cli' },
    ] as const;
    for (const as of impostors) {
      await expect(
        client.registerNode({ nodeId: 'journal-1', address: '10.0.0.9:50054' }, as),
      ).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
      await expect(
        client.registerNode({ nodeId: 'journal-3', address: '10.0.0.9:50054' }, as),
      ).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
      await expect(client.heartbeat({ nodeId: 'journal-1' }, as)).rejects.toMatchObject({
        code: Status.PERMISSION_DENIED,
      });
    }
    expect((await client.listNodes()).nodes.map((n) => [n.nodeId, n.address])).toEqual([
      ['journal-1', '10.0.0.1:50054'],
    ]);
    await client.heartbeat({ nodeId: 'journal-1' });
    await placement.stop();
  });

  it('refuses bad input with INVALID_ARGUMENT or NOT_FOUND and writes nothing', async () => {
    const placement = await kit.start();
    const { client } = placement;
    const invalid: Array<[string, () => Promise<unknown>]> = [
      ['empty node id', () => client.registerNode({ nodeId: '', address: 'h:1' })],
      ['node id with a space', () => client.registerNode({ nodeId: 'a b', address: 'h:1' })],
      ['node id of 65', () => client.registerNode({ nodeId: 'n'.repeat(65), address: 'h:1' })],
      ['empty address', () => client.registerNode({ nodeId: 'n1', address: '' })],
      ['no port', () => client.registerNode({ nodeId: 'n1', address: 'journal' })],
      ['no host', () => client.registerNode({ nodeId: 'n1', address: ':50054' })],
      ['port 0', () => client.registerNode({ nodeId: 'n1', address: 'journal:0' })],
      ['port 65536', () => client.registerNode({ nodeId: 'n1', address: 'journal:65536' })],
      ['port not a number', () => client.registerNode({ nodeId: 'n1', address: 'journal:http' })],
      ['bad host', () => client.registerNode({ nodeId: 'n1', address: 'jour nal:50054' })],
      ['url', () => client.registerNode({ nodeId: 'n1', address: 'http://journal:50054' })],
      ['empty heartbeat id', () => client.heartbeat({ nodeId: '' })],
      ['empty session', () => client.lookupShard({ sessionId: '' })],
      ['session with a slash', () => client.lookupShard({ sessionId: 'a/b' })],
      ['session of 129', () => client.lookupShard({ sessionId: 's'.repeat(129) })],
    ];
    const codes = [];
    for (const [what, call] of invalid) {
      codes.push([
        what,
        await call().then(
          () => Status.OK,
          (err: { code: number }) => err.code,
        ),
      ]);
    }
    expect(codes).toEqual(invalid.map(([what]) => [what, Status.INVALID_ARGUMENT]));
    await expect(client.heartbeat({ nodeId: 'never-registered' })).rejects.toMatchObject({
      code: Status.NOT_FOUND,
    });
    await expect(client.lookupShard({ sessionId: 'no-node-yet' })).rejects.toMatchObject({
      code: Status.UNAVAILABLE,
    });
    expect(await countRows(kit.pool)).toEqual({ nodes: 0, shards: 0 });
    await client.registerNode({ nodeId: 'n'.repeat(64), address: 'journal-1.internal:65535' });
    expect(await client.lookupShard({ sessionId: 's'.repeat(128) })).toMatchObject({
      created: true,
    });
    await placement.stop();
  });

  it('refuses to start with a shard count other than the one the database was built with', async () => {
    const first = await kit.start({ SHARD_COUNT: '16' });
    await first.stop();
    await expect(kit.start({ SHARD_COUNT: '32' })).rejects.toThrow(PlacementError);
    await expect(kit.start({ SHARD_COUNT: '32' })).rejects.toMatchObject({
      code: 'SHARD_COUNT_MISMATCH',
    });
    const again = await kit.start({ SHARD_COUNT: '16' });
    expect((await again.client.listShards()).shardCount).toBe(16);
    await again.stop();
  });
});
