import { Client } from 'pg';
import { SpanName } from '@tracechat/contracts';
import { connectNats } from '@tracechat/messaging';
import { setup, viewTrace, waitForTrace } from '@tracechat/testkit';
import type { Frame, JaegerTrace, TestStack } from '@tracechat/testkit';

/** The spans of one message's trace that the test below asserts on. */
const TRACE_SPANS = [
  'gateway.ws.on_message',
  'gateway.grpc.send_message',
  'gateway.ws.send_response',
  'logic.chat.send_message',
  'logic.auth.authorize',
  'logic.placement.lookup_shard',
  'logic.journal.append',
  'placement.metadata.query',
  'placement.cluster.route',
  'placement.shard.create',
  'journal.append_message',
  'journal.segment.append',
  'journal.index.update',
  'journal.segment.fsync',
  'journal.db.save_message',
  'journal.mq.publish',
  'task.mq.consume',
  'task.route.resolve',
  'task.push.gateway',
  'gateway.push.deliver',
  'gateway.ws.push',
  'gateway.ws.delivery_ack',
];

let stack: TestStack;

beforeAll(async () => {
  stack = await setup();
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

const has = (trace: JaegerTrace, ...names: string[]) =>
  names.every((n) => trace.spans.some((s) => s.operationName === n));

describe('one message, one trace', () => {
  let ack: Frame;
  let pushed: Frame;
  let room: string;
  let alice: string;

  beforeAll(async () => {
    alice = stack.user('alice');
    const bob = stack.user('bob');
    room = stack.session('room');
    const a = await stack.connect(alice, 1);
    const b = await stack.connect(bob, 2);
    expect(await a.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined', session: room, last_seq: 0 });
    expect(await b.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined', session: room });
    ack = await a.request({ type: 'send', session: room, text: 'hello bob', client_msg_id: `hello-${room}` });
    pushed = await b.waitFor((f) => f.type === 'message' && f.message_id === ack.message_id);
    b.send({ type: 'received', message_id: pushed.message_id, traceparent: pushed.traceparent });
  });

  it('acks the sender and pushes the message to the member on the other gateway', () => {
    expect(ack).toMatchObject({
      type: 'ack',
      message_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      seq: expect.any(Number),
      trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(pushed).toMatchObject({
      type: 'message',
      session: room,
      message_id: ack.message_id,
      seq: ack.seq,
      from: alice,
      text: 'hello bob',
      trace_id: ack.trace_id,
      traceparent: expect.stringMatching(new RegExp(`^00-${String(ack.trace_id)}-[0-9a-f]{16}-01$`)),
    });
    expect(new Date(String(pushed.sent_at)).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('gives the first message of a new shard seq 1, so history from seq 0 includes it', async () => {
    expect(ack.seq).toBe(1);
    const a = await stack.connect(alice, 1);
    const history = await a.request({ type: 'history', session: room, after_seq: 0, limit: 10 });
    // a history entry names its message's trace, as the ack did
    expect(history).toMatchObject({
      type: 'history',
      session: room,
      messages: [{ message_id: ack.message_id, seq: 1, from: alice, text: 'hello bob', trace_id: ack.trace_id }],
    });
    expect(ack.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('stores the acked message in Postgres', async () => {
    const db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT session_id, seq, sender_id, body FROM messages WHERE id = $1', [ack.message_id]);
      expect(rows).toEqual([{ session_id: room, seq: String(ack.seq), sender_id: alice, body: 'hello bob' }]);
    } finally {
      await db.end();
    }
  });

  it('is one trace in Jaeger across both gateways, logic and task, shaped as docs/tracing.md draws it', async () => {
    // every span asserted below: each service exports on its own schedule, and a parent (task's
    // consume span, which ends after its pushes) may arrive after its children
    const trace = await waitForTrace(stack.jaegerUrl, String(ack.trace_id), (t) =>
      has(t, ...TRACE_SPANS) && t.spans.filter((s) => s.operationName === 'gateway.push.deliver').length === 2,
    );
    const v = viewTrace(trace);
    expect(new Set(trace.spans.map((s) => s.traceID))).toEqual(new Set([ack.trace_id]));
    // message text is never recorded: no span name, attribute, event or resource carries it
    expect(JSON.stringify(trace)).not.toContain('hello bob');
    expect(new Set(trace.spans.map((s) => v.service(s)))).toEqual(
      new Set(['gateway', 'logic', 'placement', 'journal', 'task']),
    );

    const root = v.one('gateway.ws.on_message');
    expect(v.parent(root)).toBeUndefined();
    expect(v.instance(root)).toBe(stack.gatewayIds[0]);
    expect(v.tag(root, 'chat.frame.type')).toBe('send');

    // The send leaves in a batch RPC (ChatService/SendMessages) that carries each call's own
    // context: logic continues this message's trace right under the gateway's client span, and
    // the batch RPC itself is in no message's trace.
    const grpcSend = v.one('gateway.grpc.send_message');
    expect(v.parent(grpcSend)).toBe(root);
    expect(v.tag(grpcSend, 'rpc.method')).toBe('SendMessages');
    expect(trace.spans.filter((s) => /ChatService\/SendMessages?$/.test(s.operationName))).toEqual([]);

    const send = v.one('logic.chat.send_message');
    expect(v.service(send)).toBe('logic');
    expect(v.parent(send)).toBe(grpcSend);
    expect(v.tag(send, 'chat.session.id')).toBe(room);
    expect(v.tag(send, 'chat.user.id')).toBe(alice);
    expect(v.tag(send, 'chat.message.id')).toBe(ack.message_id);

    for (const name of ['logic.auth.authorize', 'logic.placement.lookup_shard', 'logic.journal.append']) {
      expect(v.parent(v.one(name))).toBe(send);
    }

    // The first message of the session misses the shard cache: placement answers, creating the shard.
    const lookup = v.one('logic.placement.lookup_shard');
    expect(v.tag(lookup, 'chat.cache.hit')).toBe(false);
    for (const name of ['placement.metadata.query', 'placement.cluster.route', 'placement.shard.create']) {
      const span = v.one(name);
      expect(v.service(span)).toBe('placement');
      expect(v.isUnder(span, lookup)).toBe(true);
    }
    // The journal node assigns the seq (the session's first message: 1) and keeps the append's
    // context in the record; its projector's spans continue it.
    const append = v.one('logic.journal.append');
    expect(v.tag(append, 'chat.message.seq')).toBe(1);
    const appendMessage = v.one('journal.append_message');
    expect(v.service(appendMessage)).toBe('journal');
    expect(v.isUnder(appendMessage, append)).toBe(true);
    for (const name of ['journal.segment.append', 'journal.index.update', 'journal.segment.fsync']) {
      expect(v.parent(v.one(name))).toBe(appendMessage);
    }
    expect(v.tag(v.one('journal.segment.fsync'), 'journal.batch.size')).toBeGreaterThanOrEqual(1);
    const save = v.one('journal.db.save_message');
    expect(v.service(save)).toBe('journal');
    expect(v.parent(save)).toBe(appendMessage);
    expect(v.tag(save, 'db.collection.name')).toBe('messages');
    expect(v.tag(save, 'db.rows')).toBe(1);
    expect(trace.spans.some((s) => s.operationName.startsWith('pg.query') && v.isUnder(s, save))).toBe(true);

    const publish = v.one('journal.mq.publish');
    expect(v.service(publish)).toBe('journal');
    expect(v.parent(publish)).toBe(appendMessage);
    expect(v.tag(publish, 'span.kind')).toBe('producer');
    expect(v.tag(publish, 'messaging.system')).toBe('nats');
    expect(v.tag(publish, 'messaging.destination.name')).toBe(`${stack.natsSubjectPrefix}.${room}`);

    const consume = v.one('task.mq.consume');
    expect(v.service(consume)).toBe('task');
    expect(v.tag(consume, 'span.kind')).toBe('consumer');
    expect(v.parent(consume)).toBe(publish);
    const resolve = v.one('task.route.resolve');
    expect(v.parent(resolve)).toBe(consume);
    expect(v.tag(resolve, 'chat.recipient.count')).toBe(2);

    const pushes = v.byName('task.push.gateway');
    expect(pushes.map((p) => v.tag(p, 'chat.gateway.id')).sort()).toEqual([...stack.gatewayIds].sort());
    for (const p of pushes) expect(v.parent(p)).toBe(consume);

    const delivers = v.byName('gateway.push.deliver');
    const deliver2 = delivers.find((d) => v.instance(d) === stack.gatewayIds[1])!;
    const push2 = pushes.find((p) => v.tag(p, 'chat.gateway.id') === stack.gatewayIds[1])!;
    expect(v.isUnder(deliver2, push2)).toBe(true);

    // The sender's own connection got the ack, not a push: one ws push, to bob on gateway-2.
    const wsPush = v.one('gateway.ws.push');
    expect(v.parent(wsPush)).toBe(deliver2);
    expect(v.instance(wsPush)).toBe(stack.gatewayIds[1]);
    expect(String(pushed.traceparent)).toContain(wsPush.spanID);

    const deliveryAck = v.one('gateway.ws.delivery_ack');
    expect(v.parent(deliveryAck)).toBe(wsPush);
    expect(v.instance(deliveryAck)).toBe(stack.gatewayIds[1]);

    expect(v.parent(v.one('gateway.ws.send_response'))).toBe(root);
  });

  it('publishes to JetStream with a traceparent from the same trace and the message id', async () => {
    const nats = await connectNats(stack.natsUrl, 'e2e');
    try {
      const jsm = await nats.jetstreamManager();
      const stored = await jsm.streams.getMessage(stack.natsStream, {
        last_by_subj: `${stack.natsSubjectPrefix}.${room}`,
      });
      const traceparent = stored.header.get('traceparent');
      expect(traceparent).toMatch(new RegExp(`^00-${String(ack.trace_id)}-[0-9a-f]{16}-01$`));
      expect(stored.header.get('Nats-Msg-Id')).toBe(ack.message_id);
      const trace = await waitForTrace(stack.jaegerUrl, String(ack.trace_id), (t) => has(t, 'journal.mq.publish'));
      const publish = viewTrace(trace).one('journal.mq.publish');
      expect(traceparent.split('-')[2]).toBe(publish.spanID);
      expect(Buffer.from(stored.data).toString()).toContain(String(ack.message_id));
    } finally {
      await nats.close();
    }
  });
});

describe('the span catalog', () => {
  it('names every span the services emitted in this run (Jaeger lists each operation it stored)', async () => {
    // a message of its own, so every service has emitted spans whatever ran before
    const room = stack.session('catalog');
    const a = await stack.connect(stack.user('carol'), 1);
    const b = await stack.connect(stack.user('dave'), 2);
    for (const c of [a, b]) await c.request({ type: 'join', session: room, public: true });
    const sent = await a.request({ type: 'send', session: room, text: 'for the catalog' });
    const got = await b.waitFor((f) => f.type === 'message' && f.message_id === sent.message_id);
    b.send({ type: 'received', message_id: got.message_id, traceparent: got.traceparent });
    await waitForTrace(stack.jaegerUrl, String(sent.trace_id), (t) =>
      has(t, 'gateway.ws.delivery_ack', 'gateway.ws.send_response', 'task.push.gateway', 'journal.db.save_message'),
    );
    const cataloged = new Set<string>(Object.values(SpanName));
    const getJson = async (path: string) => {
      const res = await fetch(`${stack.jaegerUrl}${path}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: string[] | null }).data ?? [];
    };
    const services = await getJson('/api/services');
    expect(services).toEqual(expect.arrayContaining(['gateway', 'logic', 'task', 'journal', 'placement']));
    const ours: string[] = [];
    for (const service of services) {
      for (const operation of await getJson(`/api/services/${encodeURIComponent(service)}/operations`)) {
        // auto-instrumented spans (grpc, pg, ioredis, http) are named by their libraries
        if (/^(gateway|logic|task|journal|placement)\./.test(operation)) ours.push(operation);
      }
    }
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((name) => !cataloged.has(name))).toEqual([]);
  });
});
