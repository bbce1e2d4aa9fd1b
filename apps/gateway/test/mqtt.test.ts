import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { generate, parser as createParser } from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { WebSocket } from 'ws';
import { Attr, DEV_AUTH_SECRET, SpanName, signToken } from '@tracechat/contracts';
import {
  RpcError,
  ServiceTokens,
  Status,
  batchHandler,
  bindServer,
  grpc,
  handleUnary,
  internalClientOptions,
  internalServer,
  stopServer,
  tracechatV1,
} from '@tracechat/protos';
import type {
  ChatServiceHandlers,
  SendMessageRequest__Output,
  SendMessageResponse,
} from '@tracechat/protos';
import { createLogger } from '@tracechat/telemetry';
import { startTestTracing } from '@tracechat/telemetry/testing';
import type { TestTracing } from '@tracechat/telemetry/testing';
import { buildGateway, loadConfig } from '../src';
import type { Gateway } from '../src';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const SERVICE_SECRET = 'a-service-secret-of-at-least-32-characters';

/** A ChatService standing in for logic: private sessions, scripted send answers, a gate. */
class FakeLogic {
  readonly sends: SendMessageRequest__Output[] = [];
  readonly owners = new Map<string, string>();
  private readonly byClientMsgId = new Map<string, SendMessageResponse>();
  private seq = 0;
  /** While set, sends wait for it. */
  gate: Promise<void> | undefined;
  private server = internalServer({ secret: SERVICE_SECRET, onRefused: () => undefined });
  port = 0;

  async start(): Promise<void> {
    const handlers: Partial<ChatServiceHandlers> = {
      JoinSession: handleUnary(
        async (req) => {
          const owner = this.owners.get(req.sessionId);
          if (owner === undefined) {
            this.owners.set(req.sessionId, req.public ? '*' : req.userId);
          } else if (owner !== '*' && owner !== req.userId) {
            throw new RpcError(Status.PERMISSION_DENIED, 'not a member of this private session');
          }
          return { lastSeq: 0 };
        },
        () => undefined,
      ),
      SendMessages: batchHandler(
        async (req: SendMessageRequest__Output) => {
          this.sends.push(req);
          if (this.gate) await this.gate;
          if (req.text === 'unavailable') throw new RpcError(Status.UNAVAILABLE, 'journal down');
          const owner = this.owners.get(req.sessionId);
          if (owner !== '*' && owner !== req.userId) {
            throw new RpcError(Status.PERMISSION_DENIED, 'not a member');
          }
          const key = `${req.sessionId}/${req.userId}/${req.clientMsgId}`;
          const earlier = req.clientMsgId ? this.byClientMsgId.get(key) : undefined;
          if (earlier) return { ...earlier, duplicate: true };
          const res = {
            messageId: `01J${randomBytes(8).toString('hex').toUpperCase()}`,
            seq: ++this.seq,
            sentAtMs: Date.now(),
            duplicate: false,
          };
          if (req.clientMsgId) this.byClientMsgId.set(key, res);
          return res;
        },
        { mapError: (err) => err, onInternalError: () => undefined },
      ),
    };
    this.server.addService(tracechatV1().ChatService.service, handlers as ChatServiceHandlers);
    this.port = await bindServer(this.server, '127.0.0.1:0');
  }

  stop(): Promise<void> {
    return stopServer(this.server);
  }
}

interface Started {
  readonly gateway: Gateway;
  readonly port: number;
  readonly mqttPort: number;
  readonly pushPort: number;
  readonly prefix: string;
}

let tracing: TestTracing;
const logic = new FakeLogic();
const started: Started[] = [];
const clients: MqttClient[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  tracing = startTestTracing();
  await logic.start();
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => undefined);
  for (const socket of sockets.splice(0)) socket.destroy();
  logic.gate = undefined;
});

afterAll(async () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  for (const s of started) {
    await s.gateway.close();
    const keys = await redis.keys(`${s.prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
  await logic.stop();
  await tracing.shutdown();
}, 20_000);

async function start(env: Record<string, string> = {}): Promise<Started> {
  const prefix = `test:mqtt-${randomBytes(4).toString('hex')}:`;
  const config = loadConfig({
    GATEWAY_PORT: '0',
    ADMIN_PORT: '0',
    MQTT_PORT: '0',
    PUSH_GRPC_ADDRESS: '127.0.0.1:0',
    LOGIC_ADDRESS: `127.0.0.1:${logic.port}`,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SERVICE_SECRET,
    ...env,
  });
  const gateway = buildGateway(config, createLogger({ name: 'mqtt-test', level: 'silent' }));
  const { port, mqttPort, pushPort } = await gateway.listen();
  const s = { gateway, port, mqttPort: mqttPort!, pushPort, prefix };
  started.push(s);
  return s;
}

let shared: Started | undefined;
async function gateway(): Promise<Started> {
  shared ??= await start();
  return shared;
}

const token = (user: string) => signToken(user, DEV_AUTH_SECRET, 600);
const uniq = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

async function client(
  port: number,
  user: string,
  options: IClientOptions = {},
  url = `mqtt://127.0.0.1:${port}`,
): Promise<MqttClient> {
  const c = await connectAsync(url, {
    protocolVersion: 5,
    username: user,
    password: token(user),
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  clients.push(c);
  return c;
}

/** The reason code a refused connect reports. */
async function refusedWith(port: number, options: IClientOptions): Promise<number | undefined> {
  try {
    const c = await connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    clients.push(c);
    return 0;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

/** A raw TCP connection that collects the packets the gateway sends and notices the close. */
async function raw(port: number, version: 4 | 5 = 5) {
  const socket = tcpConnect(port, '127.0.0.1');
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const packets: Packet[] = [];
  const parser = createParser({ protocolVersion: version });
  parser.on('packet', (p: Packet) => packets.push(p));
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const next = async (cmd: string, timeoutMs = 5000): Promise<Packet> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = packets.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return packets.splice(i, 1)[0]!;
      if (Date.now() > until) throw new Error(`no ${cmd} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    socket,
    packets,
    closed,
    next,
    send: (packet: Packet, v: number = version) =>
      socket.write(generate(packet, { protocolVersion: v })),
    async connect(user: string, extra: Partial<Packet> = {}) {
      socket.write(
        generate(
          {
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 5,
            clean: true,
            clientId: uniq('raw'),
            keepalive: 60,
            username: user,
            password: Buffer.from(token(user)),
            ...extra,
          } as Packet,
          { protocolVersion: 5 },
        ),
      );
      const connack = await next('connack');
      expect((connack as { reasonCode?: number }).reasonCode).toBe(0);
    },
  };
}

function deliver(pushPort: number, request: object): Promise<{ connections: number }> {
  const Push = tracechatV1().PushService;
  const tokens = new ServiceTokens({ service: 'task' }, SERVICE_SECRET);
  const push = new Push(
    `127.0.0.1:${pushPort}`,
    grpc.credentials.createInsecure(),
    internalClientOptions(tokens),
  );
  return new Promise((resolve, reject) =>
    push.Deliver(request, (err, res) => {
      push.close();
      if (err) reject(err);
      else resolve({ connections: res?.connections ?? 0 });
    }),
  );
}

const waitFor = async (check: () => boolean, timeoutMs = 3000) => {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('MQTT CONNECT', () => {
  it('accepts the JWT as password and states what the gateway supports', async () => {
    const { mqttPort } = await gateway();
    const s = await raw(mqttPort);
    const user = uniq('bob');
    s.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: false,
      clientId: 'raw-client',
      keepalive: 0,
      username: user,
      password: Buffer.from(token(user)),
      properties: { sessionExpiryInterval: 3600 },
    } as Packet);
    const ack = (await s.next('connack')) as Packet & {
      reasonCode: number;
      sessionPresent: boolean;
      properties: Record<string, unknown>;
    };
    expect(ack.reasonCode).toBe(0);
    expect(ack.sessionPresent).toBe(false);
    expect(ack.properties).toMatchObject({
      sessionExpiryInterval: 0,
      maximumQoS: 1,
      retainAvailable: false,
      wildcardSubscriptionAvailable: false,
      sharedSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
      receiveMaximum: 32,
      topicAliasMaximum: 16,
      maximumPacketSize: 16_384 + 1024,
      serverKeepAlive: 300,
    });
  });

  it('accepts the token alone as password, without a username or with an empty one', async () => {
    const { mqttPort } = await gateway();
    expect(await refusedWith(mqttPort, { username: '', password: token(uniq('solo')) })).toBe(0);
    // mqtt.js will not send a password without a username; MQTT 5 allows it
    const s = await raw(mqttPort);
    const clientId = Buffer.from('solo');
    const password = Buffer.from(token(uniq('solo')));
    const body = Buffer.concat([
      Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x42, 0x00, 0x3c, 0x00]),
      Buffer.from([0x00, clientId.length]),
      clientId,
      Buffer.from([password.length >> 8, password.length & 0xff]),
      password,
    ]);
    const length = [(body.length & 0x7f) | 0x80, body.length >> 7];
    s.socket.write(Buffer.concat([Buffer.from([0x10, ...length]), body]));
    expect(((await s.next('connack')) as { reasonCode?: number }).reasonCode).toBe(0);
  });

  it('refuses a bad token, a missing one and a username that is not the token user with 0x87', async () => {
    const { mqttPort } = await gateway();
    expect(await refusedWith(mqttPort, { username: 'eve', password: 'not-a-jwt' })).toBe(0x87);
    expect(await refusedWith(mqttPort, { username: 'eve' })).toBe(0x87);
    expect(await refusedWith(mqttPort, { username: 'eve', password: token('mallory') })).toBe(0x87);
  });

  it('answers an MQTT 3.1.1 CONNECT with its unacceptable-version code and closes', async () => {
    const { mqttPort } = await gateway();
    const s = await raw(mqttPort, 4);
    s.send(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: 'old',
        keepalive: 60,
        username: 'old',
        password: Buffer.from(token('old')),
      } as Packet,
      4,
    );
    const ack = (await s.next('connack')) as { returnCode?: number };
    expect(ack.returnCode).toBe(1);
    await s.closed;
  });

  it('answers an unknown protocol version with CONNACK 0x84 and closes', async () => {
    const { mqttPort } = await gateway();
    const s = await raw(mqttPort);
    const bytes = generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        clientId: 'future',
        keepalive: 60,
      } as Packet,
      { protocolVersion: 5 },
    );
    bytes[8] = 6; // the protocol level after the fixed header and "MQTT"
    s.socket.write(bytes);
    const ack = (await s.next('connack')) as { reasonCode?: number };
    expect(ack.reasonCode).toBe(0x84);
    await s.closed;
  });

  it('refuses a connection past the per-user limit with 0x97', async () => {
    const { mqttPort } = await start({ WS_MAX_CONNECTIONS_PER_USER: '1' });
    const user = uniq('limited');
    await client(mqttPort, user);
    expect(await refusedWith(mqttPort, { username: user, password: token(user) })).toBe(0x97);
  });
});

describe('MQTT listener', () => {
  it('is off with MQTT_PORT=off, and /mqtt over WebSocket still serves', async () => {
    const { port, mqttPort } = await start({ MQTT_PORT: 'off' });
    expect(mqttPort).toBeNull();
    const c = await client(port, uniq('nolistener'), {}, `ws://127.0.0.1:${port}/mqtt`);
    expect(c.connected).toBe(true);
  });
});

describe('MQTT SUBSCRIBE', () => {
  it('joins chat/<session>, refuses a private one, wildcards, shared and invalid filters', async () => {
    const { mqttPort } = await gateway();
    const owner = await client(mqttPort, uniq('owner'));
    const room = uniq('room');
    const mine = await owner.subscribeAsync(`chat/${room}`, { qos: 2 });
    expect(mine[0]!.qos).toBe(1); // granted min(requested, 1)
    const other = await raw(mqttPort);
    await other.connect(uniq('other'));
    other.send({
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [
        `chat/${room}`,
        'chat/+',
        '$share/g/chat/x',
        'news/today',
        'chat/bad topic',
      ].map((topic) => ({ topic, qos: 1 as const })),
    });
    const granted = ((await other.next('suback')) as { granted: number[] }).granted.map((qos) => ({
      qos,
    }));
    expect(granted.map((g) => g.qos)).toEqual([0x87, 0xa2, 0x9e, 0x8f, 0x8f]);
  });

  it('creates a public session with the public=true user property', async () => {
    const { mqttPort } = await gateway();
    const room = uniq('open');
    const owner = await client(mqttPort, uniq('owner'));
    await owner.subscribeAsync(`chat/${room}`, {
      qos: 1,
      properties: { userProperties: { public: 'true' } },
    });
    const guest = await client(mqttPort, uniq('guest'));
    const granted = await guest.subscribeAsync(`chat/${room}`, { qos: 0 });
    expect(granted[0]!.qos).toBe(0);
  });

  it('UNSUBSCRIBE answers 0x00 for a subscription and 0x11 for none', async () => {
    const { mqttPort } = await gateway();
    const s = await raw(mqttPort);
    await s.connect(uniq('unsub'));
    const room = uniq('room');
    s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `chat/${room}`, qos: 1 }] });
    await s.next('suback');
    s.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [`chat/${room}`, 'chat/none'] });
    const ack = (await s.next('unsuback')) as { granted: number[] };
    expect(ack.granted).toEqual([0x00, 0x11]);
  });
});

describe('MQTT PUBLISH', () => {
  it('acknowledges a QoS 1 publish only once logic answered, with the message id', async () => {
    const { mqttPort } = await gateway();
    const user = uniq('pub');
    const room = uniq('room');
    const s = await raw(mqttPort);
    await s.connect(user);
    s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `chat/${room}`, qos: 1 }] });
    await s.next('suback');
    let open!: () => void;
    logic.gate = new Promise((resolve) => (open = resolve));
    const before = logic.sends.length;
    s.send({
      cmd: 'publish',
      topic: `chat/${room}`,
      payload: Buffer.from('hello'),
      qos: 1,
      messageId: 7,
      dup: false,
      retain: false,
    });
    await waitFor(() => logic.sends.length > before);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.packets.some((p) => p.cmd === 'puback')).toBe(false);
    expect(logic.sends.at(-1)).toMatchObject({ sessionId: room, userId: user, text: 'hello' });
    open();
    const ack = (await s.next('puback')) as {
      messageId: number;
      reasonCode?: number;
      properties?: { userProperties?: Record<string, string> };
    };
    expect(ack.messageId).toBe(7);
    expect(ack.reasonCode ?? 0).toBe(0);
    expect(ack.properties?.userProperties?.message_id).toMatch(/^01J/);
    expect(ack.properties?.userProperties?.seq).toMatch(/^\d+$/);
  });

  it('answers refusals with PUBACK reason codes and keeps the connection', async () => {
    const { mqttPort } = await gateway();
    const c = await client(mqttPort, uniq('pub'));
    const theirs = uniq('theirs');
    logic.owners.set(theirs, 'someone-else');
    const code = async (topic: string, payload: Buffer | string) => {
      try {
        await c.publishAsync(topic, payload, { qos: 1 });
        return 0;
      } catch (err) {
        return (err as { code?: number }).code;
      }
    };
    expect(await code(`chat/${theirs}`, 'hi')).toBe(0x87);
    expect(await code('chat/no spaces', 'hi')).toBe(0x90);
    const room = uniq('room');
    await c.subscribeAsync(`chat/${room}`, { qos: 1 });
    expect(await code(`chat/${room}`, Buffer.from([0xff, 0xfe]))).toBe(0x99);
    expect(await code(`chat/${room}`, 'x'.repeat(5000))).toBe(0x99);
    expect(await code(`chat/${room}`, 'unavailable')).toBe(0x83);
    expect(await code(`chat/${room}`, 'fine')).toBe(0);
  });

  it('makes a publish with the same client_msg_id a duplicate of the first', async () => {
    const { mqttPort } = await gateway();
    const s = await raw(mqttPort);
    await s.connect(uniq('retry'));
    const room = uniq('room');
    s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `chat/${room}`, qos: 1 }] });
    await s.next('suback');
    const publish = (messageId: number, dup: boolean, properties: object) =>
      s.send({
        cmd: 'publish',
        topic: `chat/${room}`,
        payload: Buffer.from('once'),
        qos: 1,
        messageId,
        dup,
        retain: false,
        properties,
      });
    type Ack = { properties?: { userProperties?: Record<string, string> } };
    publish(2, false, { userProperties: { client_msg_id: 'cm-1' } });
    const first = (await s.next('puback')) as Ack;
    publish(3, true, { userProperties: { client_msg_id: 'cm-1' } });
    const second = (await s.next('puback')) as Ack;
    expect(second.properties?.userProperties?.message_id).toBe(
      first.properties?.userProperties?.message_id,
    );
    expect(second.properties?.userProperties?.duplicate).toBe('true');
    publish(4, false, { correlationData: Buffer.from('cm-1') });
    const third = (await s.next('puback')) as Ack;
    expect(third.properties?.userProperties?.duplicate).toBe('true');
  });

  it('ends the connection with 0x9B for QoS 2 and 0x9A for retain', async () => {
    const { mqttPort } = await gateway();
    for (const [qos, retain, reason] of [
      [2, false, 0x9b],
      [1, true, 0x9a],
    ] as const) {
      const s = await raw(mqttPort);
      await s.connect(uniq('bad'));
      s.send({
        cmd: 'publish',
        topic: 'chat/x',
        payload: Buffer.from('x'),
        qos,
        messageId: 1,
        dup: false,
        retain,
      });
      const d = (await s.next('disconnect')) as { reasonCode?: number };
      expect(d.reasonCode).toBe(reason);
      await s.closed;
    }
  });
});

describe('MQTT protocol abuse', () => {
  it('ends an oversized packet with 0x95 and a malformed one with 0x81', async () => {
    const { mqttPort } = await gateway();
    const big = await raw(mqttPort);
    await big.connect(uniq('big'));
    big.send({
      cmd: 'publish',
      topic: 'chat/x',
      payload: Buffer.alloc(40_000, 0x61),
      qos: 0,
      dup: false,
      retain: false,
    });
    expect(((await big.next('disconnect')) as { reasonCode?: number }).reasonCode).toBe(0x95);
    await big.closed;

    const bad = await raw(mqttPort);
    await bad.connect(uniq('bad'));
    // SUBSCRIBE with header flags 0000 (they must be 0010)
    bad.socket.write(Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]));
    expect(((await bad.next('disconnect')) as { reasonCode?: number }).reasonCode).toBe(0x81);
    await bad.closed;
  });

  it('ends a packet before CONNECT and a second CONNECT as protocol errors', async () => {
    const { mqttPort } = await gateway();
    const early = await raw(mqttPort);
    early.send({ cmd: 'pingreq' });
    await early.closed;
    const twice = await raw(mqttPort);
    const user = uniq('twice');
    await twice.connect(user);
    twice.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      clientId: 'again',
      keepalive: 60,
    } as Packet);
    expect(((await twice.next('disconnect')) as { reasonCode?: number }).reasonCode).toBe(0x82);
  });

  it('ends a connection silent for 1.5 × keep-alive with 0x8D, and answers PINGREQ', async () => {
    const { mqttPort } = await gateway();
    const s = await raw(mqttPort);
    await s.connect(uniq('idle'), { keepalive: 1 } as Partial<Packet>);
    s.send({ cmd: 'pingreq' });
    await s.next('pingresp');
    const started = Date.now();
    const d = (await s.next('disconnect', 4000)) as { reasonCode?: number };
    expect(d.reasonCode).toBe(0x8d);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('ends more unacknowledged QoS 1 publishes than the receive maximum with 0x93', async () => {
    const { mqttPort } = await start({ MQTT_RECEIVE_MAXIMUM: '2' });
    const s = await raw(mqttPort);
    await s.connect(uniq('flood'));
    let open!: () => void;
    logic.gate = new Promise((resolve) => (open = resolve));
    for (let id = 1; id <= 3; id++) {
      s.send({
        cmd: 'publish',
        topic: 'chat/flood',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: id,
        dup: false,
        retain: false,
      });
    }
    expect(((await s.next('disconnect')) as { reasonCode?: number }).reasonCode).toBe(0x93);
    open();
  });

  it('ends a topic alias above the maximum with 0x94', async () => {
    const { mqttPort } = await gateway();
    const s = await raw(mqttPort);
    await s.connect(uniq('alias'));
    s.send({
      cmd: 'publish',
      topic: 'chat/x',
      payload: Buffer.from('x'),
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: 17 },
    });
    expect(((await s.next('disconnect')) as { reasonCode?: number }).reasonCode).toBe(0x94);
  });

  it('does not disturb a WebSocket client on the same gateway', async () => {
    const { port, mqttPort } = await gateway();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
      headers: { authorization: `Bearer ${token(uniq('web'))}` },
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const s = await raw(mqttPort);
    s.socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00]));
    await s.closed;
    const garbage = await raw(mqttPort);
    garbage.socket.write(randomBytes(64));
    await garbage.closed;
    const pong = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send(JSON.stringify({ type: 'ping', id: 'p1' }));
    expect(JSON.parse(await pong)).toEqual({ type: 'pong', id: 'p1' });
    ws.close();
  });
});

describe('MQTT pushes', () => {
  it('pushes to subscribers with traceparent and closes a QoS 1 delivery with delivery_ack', async () => {
    const { mqttPort, pushPort } = await gateway();
    const room = uniq('room');
    const user = uniq('reader');
    const c = await client(mqttPort, user);
    await c.subscribeAsync(`chat/${room}`, {
      qos: 1,
      properties: { userProperties: { public: 'true' } },
    });
    const quiet = await client(mqttPort, uniq('quiet'));
    let quietGot = 0;
    quiet.on('message', () => quietGot++);
    const received = new Promise<{ topic: string; payload: Buffer; packet: Packet }>((resolve) =>
      c.once('message', (topic, payload, packet) => resolve({ topic, payload, packet })),
    );
    tracing.reset();
    const res = await deliver(pushPort, {
      message: {
        messageId: '01JMESSAGE0001',
        sessionId: room,
        seq: 5,
        senderId: 'ann',
        text: 'hello there',
        sentAtMs: Date.now(),
        traceId: 'a'.repeat(32),
      },
      userIds: [user, 'nobody-here'],
      excludeConnectionId: '',
    });
    expect(res.connections).toBe(1);
    const { topic, payload, packet } = await received;
    expect(topic).toBe(`chat/${room}`);
    expect(payload.toString()).toBe('hello there');
    const props = (packet as { properties?: Record<string, unknown> }).properties!;
    const user_props = props.userProperties as Record<string, string>;
    expect(props.contentType).toBe('text/plain; charset=utf-8');
    expect(props.payloadFormatIndicator).toBe(true);
    expect(user_props).toMatchObject({ message_id: '01JMESSAGE0001', seq: '5', from: 'ann' });
    expect(user_props.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await waitFor(() =>
      tracing.exporter
        .getFinishedSpans()
        .some((s) => s.name === SpanName.GATEWAY_MQTT_DELIVERY_ACK),
    );
    const spans = tracing.exporter.getFinishedSpans();
    const push = spans.find((s) => s.name === SpanName.GATEWAY_MQTT_PUSH)!;
    const ack = spans.find((s) => s.name === SpanName.GATEWAY_MQTT_DELIVERY_ACK)!;
    const deliverSpan = spans.find((s) => s.name === SpanName.GATEWAY_PUSH_DELIVER)!;
    expect(user_props.traceparent).toBe(
      `00-${push.spanContext().traceId}-${push.spanContext().spanId}-01`,
    );
    expect(push.parentSpanContext?.spanId).toBe(deliverSpan.spanContext().spanId);
    expect(ack.parentSpanContext?.spanId).toBe(push.spanContext().spanId);
    expect(quietGot).toBe(0);
  });

  it('continues the publisher trace from its traceparent user property', async () => {
    const { mqttPort } = await gateway();
    const c = await client(mqttPort, uniq('traced'));
    const room = uniq('room');
    await c.subscribeAsync(`chat/${room}`, { qos: 1 });
    tracing.reset();
    const traceId = randomBytes(16).toString('hex');
    await c.publishAsync(`chat/${room}`, 'traced', {
      qos: 1,
      properties: { userProperties: { traceparent: `00-${traceId}-${'1'.repeat(16)}-01` } },
    });
    await waitFor(() =>
      tracing.exporter.getFinishedSpans().some((s) => s.name === SpanName.GATEWAY_MQTT_PUBLISH),
    );
    const spans = tracing.exporter.getFinishedSpans();
    const publish = spans.find((s) => s.name === SpanName.GATEWAY_MQTT_PUBLISH)!;
    expect(publish.spanContext().traceId).toBe(traceId);
    const names = spans
      .filter((s) => s.parentSpanContext?.spanId === publish.spanContext().spanId)
      .map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([SpanName.GATEWAY_GRPC_SEND_MESSAGE, SpanName.GATEWAY_MQTT_PUBACK]),
    );
    expect(JSON.stringify(publish.attributes)).not.toContain('traced"');
    // the head sampler's switches and whitelists read these, as on WebSocket frames
    expect(publish.attributes).toMatchObject({
      [Attr.EVENT]: 'messaging',
      [Attr.SESSION_ID]: room,
      [Attr.MESSAGING_MQTT_QOS]: 1,
    });
    expect(publish.attributes[Attr.USER_ID]).toMatch(/^traced-/);
  });

  it('gives a publisher its own message unless it subscribed with No Local', async () => {
    const { mqttPort, pushPort } = await gateway();
    const room = uniq('room');
    const user = uniq('self');
    const plain = await client(mqttPort, user);
    await plain.subscribeAsync(`chat/${room}`, { qos: 0 });
    const quiet = await client(mqttPort, user);
    await quiet.subscribeAsync(`chat/${room}`, { qos: 0, nl: true });
    const ids = new Map<MqttClient, string>();
    for (const c of [plain, quiet]) {
      await c.publishAsync(`chat/${room}`, 'mine', { qos: 1 });
      ids.set(c, logic.sends.at(-1)!.originConnectionId);
    }
    const got = { plain: 0, quiet: 0 };
    plain.on('message', () => got.plain++);
    quiet.on('message', () => got.quiet++);
    const message = (excludeConnectionId: string) => ({
      message: {
        messageId: `01JSELF${randomBytes(4).toString('hex')}`,
        sessionId: room,
        seq: 1,
        senderId: user,
        text: 'mine',
        sentAtMs: Date.now(),
        traceId: 'c'.repeat(32),
      },
      userIds: [user],
      excludeConnectionId,
    });
    // the sender's own connection is excluded by task; No Local decides for MQTT
    expect((await deliver(pushPort, message(ids.get(plain)!))).connections).toBe(2);
    expect((await deliver(pushPort, message(ids.get(quiet)!))).connections).toBe(1);
    await waitFor(() => got.plain === 2 && got.quiet === 1);
  });

  it('holds QoS 1 pushes past the client receive maximum until it acknowledges, and drops one too large', async () => {
    const { mqttPort, pushPort } = await gateway();
    const user = uniq('slow');
    const room = uniq('room');
    const s = await raw(mqttPort);
    await s.connect(user, {
      properties: { receiveMaximum: 1, maximumPacketSize: 1024 },
    } as Partial<Packet>);
    s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `chat/${room}`, qos: 1 }] });
    await s.next('suback');
    const push = (seq: number, text: string) =>
      deliver(pushPort, {
        message: {
          messageId: `01JSLOW${seq}`,
          sessionId: room,
          seq,
          senderId: 'ann',
          text,
          sentAtMs: Date.now(),
          traceId: 'd'.repeat(32),
        },
        userIds: [user],
        excludeConnectionId: '',
      });
    expect((await push(1, 'one')).connections).toBe(1);
    expect((await push(2, 'two')).connections).toBe(1);
    expect((await push(3, 'x'.repeat(2000))).connections).toBe(0);
    const first = (await s.next('publish')) as { messageId: number; payload: Buffer };
    expect(first.payload.toString()).toBe('one');
    await new Promise((r) => setTimeout(r, 100));
    expect(s.packets.filter((p) => p.cmd === 'publish')).toHaveLength(0);
    s.send({ cmd: 'puback', messageId: first.messageId, reasonCode: 0 });
    const second = (await s.next('publish')) as { payload: Buffer };
    expect(second.payload.toString()).toBe('two');
  });

  it('ends an MQTT connection whose token expires with DISCONNECT 0x87', async () => {
    const { mqttPort } = await gateway();
    const user = uniq('brief');
    const s = await raw(mqttPort);
    s.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      clientId: 'brief',
      keepalive: 60,
      username: user,
      password: Buffer.from(signToken(user, DEV_AUTH_SECRET, 1)),
    } as Packet);
    expect(((await s.next('connack')) as { reasonCode?: number }).reasonCode).toBe(0);
    const d = (await s.next('disconnect', 4000)) as {
      reasonCode?: number;
      properties?: { reasonString?: string };
    };
    expect(d.reasonCode).toBe(0x87);
    expect(d.properties?.reasonString).toBe('token expired');
  });

  it('applies the Origin rule of /ws to /mqtt', async () => {
    const { port } = await gateway();
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt', {
        headers: { origin: 'https://evil.example.com' },
      });
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('open', () => {
        resolve(101);
        ws.terminate();
      });
      ws.once('error', reject);
    });
    expect(status).toBe(403);
  });

  it('serves MQTT over WebSocket at /mqtt', async () => {
    const { port, pushPort } = await gateway();
    const user = uniq('wsmqtt');
    const room = uniq('room');
    const c = await client(port, user, {}, `ws://127.0.0.1:${port}/mqtt`);
    await c.subscribeAsync(`chat/${room}`, { qos: 0 });
    const got = new Promise<string>((resolve) => c.once('message', (_t, p) => resolve(String(p))));
    await deliver(pushPort, {
      message: {
        messageId: '01JMESSAGE0002',
        sessionId: room,
        seq: 1,
        senderId: 'ann',
        text: 'over websocket',
        sentAtMs: Date.now(),
        traceId: 'b'.repeat(32),
      },
      userIds: [user],
      excludeConnectionId: '',
    });
    expect(await got).toBe('over websocket');
  });
});
