import { randomBytes } from 'node:crypto';
import { connectNats, ensureStream, headers } from '@tracechat/messaging';
import type { NatsConnection } from '@tracechat/messaging';
import { ServiceTokens, bindServer, grpc, stopServer, tracechatV1 } from '@tracechat/protos';
import type { DeliverRequest__Output, PushServiceHandlers } from '@tracechat/protos';
import { createLogger } from '@tracechat/telemetry';
import { encodeMessageEvent, messageSubject } from '@tracechat/contracts';
import { DeadLetterHeader, MessageConsumer } from '../src/consumer';
import { Pusher } from '../src/pusher';
import type { Route } from '../src/router';

const run = randomBytes(4).toString('hex');
let n = 0;
// each test has a stream of its own, so no consumer sees another test's messages
let stream = '';
let prefix = '';
const log = createLogger({ name: 'task', level: 'fatal' });

/** A PushService that records what it was given and fails while `failures` is above 0. */
class FakeGateway {
  readonly server = new grpc.Server();
  readonly calls: DeliverRequest__Output[] = [];
  failures = 0;
  delayMs = 0;
  address = '';

  constructor(readonly id: string) {
    const handlers: PushServiceHandlers = {
      Deliver: (call, callback) => {
        this.calls.push(call.request);
        const delay = this.delayMs * Math.random();
        setTimeout(() => {
          if (this.failures > 0) {
            this.failures--;
            callback({ code: grpc.status.UNAVAILABLE, details: 'gateway is failing' });
          } else {
            callback(null, { connections: 0 });
          }
        }, delay);
      },
      // task sends its pushes in batches; each call fails or succeeds on its own
      DeliverBatch: (call, callback) => {
        const results = call.request.calls.map((c) => {
          this.calls.push(c.request!);
          if (this.failures > 0) {
            this.failures--;
            return { status: { code: grpc.status.UNAVAILABLE, message: 'gateway is failing' } };
          }
          return { status: { code: grpc.status.OK, message: '' }, response: { connections: 0 } };
        });
        setTimeout(() => callback(null, { results }), this.delayMs * Math.random());
      },
    };
    this.server.addService(tracechatV1().PushService.service, handlers);
  }

  async listen(): Promise<void> {
    this.address = `127.0.0.1:${await bindServer(this.server, '127.0.0.1:0')}`;
  }

  route(userIds = ['u']): Route {
    return { gatewayId: this.id, address: this.address, userIds };
  }

  seqs(sessionId: string): number[] {
    return this.calls
      .filter((c) => c.message!.sessionId === sessionId)
      .map((c) => Number(c.message!.seq));
  }
}

let nats: NatsConnection;
const gateways: FakeGateway[] = [];
let consumer: MessageConsumer | undefined;
let pusher: Pusher | undefined;

beforeAll(async () => {
  nats = await connectNats('nats://127.0.0.1:4222', 'task-consumer-test');
});

beforeEach(async () => {
  n++;
  stream = `TASKTEST_${run.toUpperCase()}_${n}`;
  prefix = `tasktest.${run}.${n}.msg`;
  await ensureStream(await nats.jetstreamManager(), { stream, subjectPrefix: prefix });
});

afterEach(async () => {
  await consumer?.stop();
  consumer = undefined;
  pusher?.close();
  await Promise.all(gateways.splice(0).map((g) => stopServer(g.server)));
  const jsm = await nats.jetstreamManager();
  await jsm.streams.delete(stream).catch(() => undefined);
  await jsm.streams.delete(`${stream}_DLQ`).catch(() => undefined);
});

afterAll(async () => {
  await nats.close();
});

async function gateway(id: string): Promise<FakeGateway> {
  const g = new FakeGateway(id);
  await g.listen();
  gateways.push(g);
  return g;
}

async function startConsumer(
  durable: string,
  routes: () => Route[],
  attempts = 3,
): Promise<MessageConsumer> {
  pusher = new Pusher(
    1000,
    new ServiceTokens({ service: 'task' }, 'test-service-secret-of-32-chars!'),
    {
      attempts,
      baseDelayMs: 20,
      maxDelayMs: 50,
    },
  );
  consumer = new MessageConsumer(
    nats,
    {
      stream,
      subjectPrefix: prefix,
      durable,
      ackWaitMs: 30_000,
      maxDeliver: 5,
      concurrency: 16,
      retryDelayMs: 100,
      routeRetry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 },
      deadLetterStream: `${stream}_DLQ`,
    },
    { resolve: async () => routes() },
    pusher,
    log,
  );
  await consumer.start();
  return consumer;
}

async function publish(sessionId: string, seq: number): Promise<string> {
  const messageId = `m-${sessionId}-${seq}`;
  const h = headers();
  h.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  await nats.jetstream().publish(
    messageSubject(prefix, sessionId),
    encodeMessageEvent({
      messageId,
      sessionId,
      seq,
      senderId: 'alice',
      text: `text ${seq}`,
      sentAtMs: Date.now(),
      originGatewayId: 'elsewhere',
      originConnectionId: 'c1',
    }),
    { msgID: messageId, headers: h },
  );
  return messageId;
}

async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function pendingAcks(durable: string): Promise<number> {
  const info = await (await nats.jetstreamManager()).consumers.info(stream, durable);
  return info.num_ack_pending + info.num_pending;
}

describe('MessageConsumer', () => {
  it('pushes each session’s messages one at a time in seq order, sessions in parallel', async () => {
    const g = await gateway('g-order');
    g.delayMs = 30;
    const durable = `order-${run}`;
    const sessions = ['s1', 's2', 's3'].map((s) => `${s}-order-${run}`);
    for (let seq = 1; seq <= 15; seq++) for (const s of sessions) await publish(s, seq);
    await startConsumer(durable, () => [g.route()]);
    await until(() => g.calls.length === 45);
    for (const s of sessions)
      expect(g.seqs(s)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    await until(async () => (await pendingAcks(durable)) === 0);
  });

  it('retries only the failing gateway and never pushes twice to one that took the message', async () => {
    const healthy = await gateway('g-healthy');
    const flaky = await gateway('g-flaky');
    flaky.failures = 2;
    const durable = `retry-${run}`;
    const session = `retry-${run}`;
    await publish(session, 1);
    await startConsumer(durable, () => [healthy.route(), flaky.route()]);
    await until(async () => flaky.calls.length === 3 && (await pendingAcks(durable)) === 0);
    expect(healthy.seqs(session)).toEqual([1]);
    expect(flaky.seqs(session)).toEqual([1, 1, 1]);
  });

  it('dead-letters a push that exhausts its retries, and acks the message', async () => {
    const healthy = await gateway('g-ok');
    const broken = await gateway('g-broken');
    broken.failures = 1_000;
    const durable = `dlq-${run}`;
    const session = `dlq-${run}`;
    const messageId = await publish(session, 1);
    await startConsumer(durable, () => [healthy.route(['u1']), broken.route(['u2', 'u3'])], 3);
    await until(async () => (await pendingAcks(durable)) === 0);
    expect(broken.calls).toHaveLength(3);
    expect(healthy.seqs(session)).toEqual([1]);

    const dlq = await nats.jetstream().consumers.get(`${stream}_DLQ`);
    const dead = await dlq.next({ expires: 5000 });
    expect(dead).not.toBeNull();
    expect(dead!.subject).toBe(`${prefix}_dlq.${session}`);
    expect(dead!.headers?.get(DeadLetterHeader.GATEWAY_ID)).toBe('g-broken');
    expect(dead!.headers?.get(DeadLetterHeader.USER_IDS)).toBe('u2,u3');
    expect(dead!.headers?.get('traceparent')).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-/);
    expect(JSON.parse(Buffer.from(dead!.data).toString())).toMatchObject({ messageId, seq: 1 });
  });

  it('recreates a deleted durable consumer and goes on delivering; readiness follows the loop', async () => {
    const g = await gateway('g-recreate');
    const durable = `recreate-${run}`;
    const session = `recreate-${run}`;
    await publish(session, 1);
    const c = await startConsumer(durable, () => [g.route()]);
    await until(() => g.calls.length === 1);
    await expect(c.check()).resolves.toBeUndefined();

    await (await nats.jetstreamManager()).consumers.delete(stream, durable);
    await until(async () => {
      try {
        await (await nats.jetstreamManager()).consumers.info(stream, durable);
        return true;
      } catch {
        return false;
      }
    });
    await until(() =>
      c.check().then(
        () => true,
        () => false,
      ),
    );
    await publish(session, 2);
    await until(() => g.calls.length === 2);
    expect(g.seqs(session)).toEqual([1, 2]);

    await c.stop();
    await expect(c.check()).rejects.toThrow(/stopped/);
  });
});
