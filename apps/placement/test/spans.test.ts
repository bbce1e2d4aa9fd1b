import { SpanStatusCode } from '@opentelemetry/api';
import { withSpan } from '@tracechat/telemetry';
import { startTestTracing } from '@tracechat/telemetry/testing';
import type { TestTracing } from '@tracechat/telemetry/testing';
import { PlacementError } from '../src';
import { PlacementService } from '../src/service';
import { PlacementStore } from '../src/store';
import type { PlacementKit } from '@tracechat/testkit';
import { setup } from './placement-kit';

describe('placement spans', () => {
  let tracing: TestTracing;
  let kit: PlacementKit;
  let store: PlacementStore;
  let service: PlacementService;

  beforeAll(async () => {
    tracing = startTestTracing();
    kit = await setup();
    store = new PlacementStore(kit.pool, 10_000);
    service = new PlacementService({ store, shardCount: 16, nodeLeaseMs: 10_000 });
  });
  afterEach(async () => {
    tracing.reset();
    await kit.reset();
  });
  afterAll(async () => {
    await kit.cleanup();
    await tracing.shutdown();
  });

  const lookup = (sessionId: string) =>
    withSpan('test.call', {}, () => service.lookupShard({ sessionId }));

  const finished = () => {
    const spans = tracing.exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'test.call')!;
    const children = spans.filter((s) => s !== root);
    for (const span of children) {
      expect(span.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    }
    return new Map(children.map((s) => [s.name, s]));
  };

  it('traces a first lookup as metadata query, cluster route and shard create', async () => {
    await store.registerNode('journal-1', '127.0.0.1:50054');
    const answer = await lookup('session-1');
    expect(answer.created).toBe(true);

    const spans = finished();
    expect([...spans.keys()]).toEqual([
      'placement.metadata.query',
      'placement.cluster.route',
      'placement.shard.create',
    ]);
    const ids = { 'chat.session.id': 'session-1', 'chat.shard.id': answer.shardId };
    expect(spans.get('placement.metadata.query')!.attributes).toMatchObject({
      ...ids,
      'db.collection.name': 'placement_shards',
    });
    expect(spans.get('placement.cluster.route')!.attributes).toMatchObject({
      ...ids,
      'chat.journal.node.id': 'journal-1',
      'db.collection.name': 'placement_nodes',
    });
    expect(spans.get('placement.shard.create')!.attributes).toMatchObject({
      ...ids,
      'chat.journal.node.id': 'journal-1',
      'db.collection.name': 'placement_shards',
      'db.operation.name': 'INSERT',
    });
  });

  it('creates nothing on a second lookup of the same shard', async () => {
    await store.registerNode('journal-1', '127.0.0.1:50054');
    await service.lookupShard({ sessionId: 'session-1' });
    tracing.reset();

    const answer = await lookup('session-1');
    expect(answer.created).toBe(false);
    const spans = finished();
    expect([...spans.keys()]).toEqual(['placement.metadata.query', 'placement.cluster.route']);
    expect(spans.get('placement.metadata.query')!.attributes['chat.journal.node.id']).toBe(
      'journal-1',
    );
    expect(spans.get('placement.cluster.route')!.attributes).toMatchObject({
      'chat.shard.id': answer.shardId,
      'chat.journal.node.id': 'journal-1',
      'chat.journal.node.up': true,
    });
  });

  it('marks the route failed when no node is up to take a new shard', async () => {
    await expect(lookup('session-1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(service.lookupShard({ sessionId: 'session-1' })).rejects.toThrow(PlacementError);
    const spans = tracing.exporter.getFinishedSpans();
    const route = spans.find((s) => s.name === 'placement.cluster.route')!;
    expect(route.status.code).toBe(SpanStatusCode.ERROR);
    expect(route.attributes['error.type']).toBe('UNAVAILABLE');
    expect(spans.some((s) => s.name === 'placement.shard.create')).toBe(false);
  });
});
