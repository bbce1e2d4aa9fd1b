/**
 * The MQTT 5 front door, driven by real third-party clients: Mosquitto's mosquitto_pub and
 * mosquitto_sub (spawned), mqtt.js, and raw packets built with mqtt-packet. MQTT and WebSocket
 * users meet in the same sessions, and a message stays one trace across both protocols.
 */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { setup, viewTrace, waitForTrace } from '@tracechat/testkit';
import type { JaegerTrace, TestStack } from '@tracechat/testkit';
import { MosquittoSub, RawMqtt, connectMqtt, disconnectReason, inbox, mosquittoPub, mqttPort, parsePrinted, requireMosquittoClients } from './mqtt-kit';

let stack: TestStack;
const mqttClients: MqttClient[] = [];
const subs: MosquittoSub[] = [];
const raws: RawMqtt[] = [];

beforeAll(async () => {
  // before the stack: a machine without the Mosquitto clients fails here, with what to install
  requireMosquittoClients();
  stack = await setup();
}, 180_000);

afterAll(async () => {
  for (const sub of subs) sub.stop();
  for (const raw of raws) raw.close();
  await Promise.allSettled(mqttClients.map((c) => c.endAsync(true)));
  await stack?.cleanup();
});

async function mqttUser(user: string, gateway: 1 | 2): Promise<MqttClient> {
  const client = await connectMqtt(stack, user, gateway);
  mqttClients.push(client);
  return client;
}

const has = (trace: JaegerTrace, ...names: string[]) => names.every((n) => trace.spans.some((s) => s.operationName === n));
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** Makes `user` a member of the public session `room` over the WebSocket, then closes that connection. */
async function joinOverWebSocket(user: string, room: string, gateway: 1 | 2 = 1): Promise<void> {
  const ws = await stack.connect(user, gateway);
  expect(await ws.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
  await ws.close();
}

describe('an MQTT publisher (mosquitto_pub)', () => {
  it('reaches a WebSocket member on the other gateway and an MQTT subscriber, all in the trace the publisher chose', async () => {
    const room = stack.session('mqtt-in');
    const [alice, bob, carol] = [stack.user('alice'), stack.user('bob'), stack.user('carol')];
    const bobWs = await stack.connect(bob, 2);
    expect(await bobWs.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    await joinOverWebSocket(alice, room, 1);
    const carolMqtt = await mqttUser(carol, 1);
    const carolInbox = inbox(carolMqtt);
    const granted = await carolMqtt.subscribeAsync(`chat/${room}`, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([expect.any(Number)]);
    expect(granted[0]!.qos).toBeLessThan(0x80);

    const traceId = hex(16);
    const parentSpan = hex(8);
    const text = `from mosquitto ${room}`;
    const pushed = bobWs.waitFor((f) => f.type === 'message' && f.text === text, 20_000, 'push to bob');
    const pub = await mosquittoPub(stack, alice, 1, room, text, [
      ...['-q', '1'],
      ...['-D', 'publish', 'user-property', 'traceparent', `00-${traceId}-${parentSpan}-01`],
      ...['-D', 'publish', 'user-property', 'client_msg_id', `mosq-${room}`],
    ]);
    expect({ code: pub.code, stderr: pub.stderr }).toEqual({ code: 0, stderr: '' });
    // QoS 1: the gateway's PUBACK came back, and with success
    expect(pub.stdout).toMatch(/received PUBACK/);
    expect(pub.stdout).not.toMatch(/failed|Warning/i);

    const frame = await pushed;
    expect(frame).toMatchObject({ type: 'message', session: room, from: alice, text, trace_id: traceId });
    bobWs.send({ type: 'received', message_id: frame.message_id, traceparent: frame.traceparent });

    const atCarol = await carolInbox.next((m) => m.text === text);
    expect(atCarol.topic).toBe(`chat/${room}`);
    expect(atCarol.props).toMatchObject({
      message_id: String(frame.message_id),
      seq: String(frame.seq),
      from: alice,
      trace_id: traceId,
      traceparent: expect.stringMatching(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`)),
    });

    const spans = ['gateway.mqtt.publish', 'logic.chat.send_message', 'journal.append_message', 'journal.mq.publish', 'task.mq.consume', 'gateway.push.deliver', 'gateway.ws.push', 'gateway.mqtt.push'];
    const trace = await waitForTrace(stack.jaegerUrl, traceId, (t) => has(t, ...spans));
    expect(new Set(trace.spans.map((s) => s.traceID))).toEqual(new Set([traceId]));
    const v = viewTrace(trace);
    expect(new Set(trace.spans.map((s) => v.service(s)))).toEqual(new Set(['gateway', 'logic', 'placement', 'journal', 'task']));
    // the publish span continues the publisher's context: its parent is the span the client named
    const publish = trace.spans.find((s) => s.operationName === 'gateway.mqtt.publish')!;
    expect(publish.references.map((r) => r.spanID)).toContain(parentSpan);
    // each recipient's push span is the one its push names
    const mqttPush = trace.spans.filter((s) => s.operationName === 'gateway.mqtt.push').map((s) => s.spanID);
    expect(mqttPush).toContain(atCarol.props.traceparent!.split('-')[2]);
    const wsPush = trace.spans.filter((s) => s.operationName === 'gateway.ws.push').map((s) => s.spanID);
    expect(wsPush).toContain(String(frame.traceparent).split('-')[2]);
    // message text is never recorded
    expect(JSON.stringify(trace)).not.toContain(text);
  }, 90_000);
});

describe('a WebSocket sender', () => {
  it('reaches mosquitto_sub on the other gateway, whose user properties carry the push span of its trace', async () => {
    const room = stack.session('mqtt-out');
    const [alice, bob] = [stack.user('alice-ws'), stack.user('bob-mosq')];
    const aliceWs = await stack.connect(alice, 1);
    expect(await aliceWs.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    const sub = MosquittoSub.start(stack, bob, 2, room);
    subs.push(sub);
    expect(await sub.subscribed()).toBeLessThan(0x80);

    const text = `to mosquitto ${room}`;
    const ack = await aliceWs.request({ type: 'send', session: room, text });
    expect(ack).toMatchObject({ type: 'ack', trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const line = await sub.line((l) => l.startsWith(text), 20_000, `"${text}"`);
    const { props } = parsePrinted(line, text);
    expect(props).toMatchObject({
      message_id: String(ack.message_id),
      seq: String(ack.seq),
      from: alice,
      trace_id: ack.trace_id,
      traceparent: expect.stringMatching(new RegExp(`^00-${String(ack.trace_id)}-[0-9a-f]{16}-01$`)),
    });
    const pushSpan = props.traceparent!.split('-')[2]!;
    const trace = await waitForTrace(stack.jaegerUrl, String(ack.trace_id), (t) => t.spans.some((s) => s.operationName === 'gateway.mqtt.push' && s.spanID === pushSpan));
    expect(has(trace, 'gateway.ws.on_message', 'logic.chat.send_message', 'task.mq.consume', 'gateway.mqtt.push')).toBe(true);
  }, 60_000);
});

describe('refusals carry the MQTT 5 reason codes', () => {
  it('answers bad credentials with CONNACK 0x87 (not authorized)', async () => {
    const user = stack.user('intruder');
    await expect(connectMqtt(stack, user, 1, { password: 'not-a-token' })).rejects.toMatchObject({ code: 0x87 });
    // another user's valid token under this user name
    await expect(connectMqtt(stack, user, 2, { password: stack.token(stack.user('someone-else')) })).rejects.toMatchObject({ code: 0x87 });
    // and on the wire: the CONNACK itself, then the gateway hangs up
    const raw = await RawMqtt.open(mqttPort(stack, 2));
    raws.push(raw);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: `${user}-raw`, keepalive: 30, username: user, password: Buffer.from('bad') });
    const connack = (await raw.until((p) => p.cmd === 'connack', 10_000)) as { reasonCode?: number } | undefined;
    expect(connack?.reasonCode).toBe(0x87);
    expect(await raw.waitClosed(10_000)).toBe(true);
  });

  it('refuses a private session to a non-member: SUBACK 0x87 and PUBACK 0x87, and the connection stays', async () => {
    const room = stack.session('private');
    const owner = await stack.connect(stack.user('owner'), 1);
    expect(await owner.request({ type: 'join', session: room })).toMatchObject({ type: 'joined' });
    const mallory = await mqttUser(stack.user('mallory'), 2);
    await expect(mallory.subscribeAsync(`chat/${room}`, { qos: 1 })).rejects.toMatchObject({ packet: { cmd: 'suback', granted: [0x87] } });
    await expect(mallory.publishAsync(`chat/${room}`, 'let me in', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    expect(mallory.connected).toBe(true);
    // nothing reached the session
    const history = await owner.request({ type: 'history', session: room, after_seq: 0, limit: 10 });
    expect(history).toMatchObject({ type: 'history', messages: [] });
  });

  it('disconnects a packet over the maximum packet size with 0x95', async () => {
    const { raw, connack } = await RawMqtt.connected(stack, stack.user('big'), 1);
    raws.push(raw);
    const max = (connack as { properties?: { maximumPacketSize?: number } }).properties?.maximumPacketSize;
    expect(max).toEqual(expect.any(Number));
    raw.send({ cmd: 'publish', topic: `chat/${stack.session('big')}`, payload: Buffer.alloc(max! + 100, 0x61), qos: 0, dup: false, retain: false });
    expect(await raw.waitClosed(10_000)).toBe(true);
    expect(disconnectReason(raw)).toBe(0x95);
  });

  it('disconnects a malformed packet with 0x81', async () => {
    // a PUBLISH whose topic length runs past the packet
    const { raw } = await RawMqtt.connected(stack, stack.user('malformed'), 2);
    raws.push(raw);
    raw.write(Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]));
    expect(await raw.waitClosed(10_000)).toBe(true);
    expect(disconnectReason(raw)).toBe(0x81);
    // a SUBSCRIBE whose fixed header flags are not 0010 (MQTT 5.0, 2.1.3: a malformed packet)
    const topic = Buffer.from(`chat/${stack.session('malformed')}`);
    const body = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, topic.length]), topic, Buffer.from([0x01])]);
    const second = await RawMqtt.connected(stack, stack.user('malformed'), 1);
    raws.push(second.raw);
    second.raw.write(Buffer.concat([Buffer.from([0x80, body.length]), body]));
    expect([await second.raw.waitClosed(10_000), second.raw.describe()]).toEqual([true, expect.any(String)]);
    expect(disconnectReason(second.raw)).toBe(0x81);
  });

  // MQTT 5.0, 3.8.3: a SUBSCRIBE packet with no payload is a Protocol Error
  it('ends a SUBSCRIBE without any topic filter as a protocol error (0x82)', async () => {
    const { raw } = await RawMqtt.connected(stack, stack.user('empty-subscribe'), 1);
    raws.push(raw);
    raw.write(Buffer.from([0x82, 0x03, 0x00, 0x01, 0x00]));
    expect([await raw.waitClosed(3_000), raw.describe()]).toEqual([true, expect.any(String)]);
    expect(disconnectReason(raw)).toBe(0x82);
  });
});

describe('MQTT over WebSocket (/mqtt on the HTTP port)', () => {
  it('subscribes and publishes like the TCP listener', async () => {
    const room = stack.session('mqtt-ws');
    const user = stack.user('browserish');
    const ws = await stack.connect(stack.user('ws-peer'), 1);
    expect(await ws.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
    const client = await mqtt.connectAsync(`ws://127.0.0.1:${stack.ports.gateway2}/mqtt`, {
      protocolVersion: 5,
      clientId: `${user}-ws`,
      username: user,
      password: stack.token(user),
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    mqttClients.push(client);
    const box = inbox(client);
    expect((await client.subscribeAsync(`chat/${room}`, { qos: 1 }))[0]!.qos).toBeLessThan(0x80);
    const ack = await ws.request({ type: 'send', session: room, text: 'over the websocket' });
    expect((await box.next((m) => m.text === 'over the websocket')).props).toMatchObject({ message_id: ack.message_id, trace_id: ack.trace_id });
    const pushed = ws.waitFor((f) => f.type === 'message' && f.text === 'and back', 20_000, 'push of the MQTT publish');
    await client.publishAsync(`chat/${room}`, 'and back', { qos: 1 });
    expect(await pushed).toMatchObject({ from: user, session: room });
  });
});

describe('client_msg_id', () => {
  it('keeps a publish repeated with the same client_msg_id once in history', async () => {
    const room = stack.session('dedupe');
    const user = stack.user('repeater');
    await joinOverWebSocket(user, room, 2);
    const client = await mqttUser(user, 2);
    const id = `dup-${room}`;
    const text = `once only ${room}`;
    for (let i = 0; i < 2; i++) {
      await client.publishAsync(`chat/${room}`, text, { qos: 1, properties: { userProperties: { client_msg_id: id } } });
    }
    // a second connection repeating it (a client that reconnected before its PUBACK came)
    const again = await mqttUser(user, 1);
    await again.publishAsync(`chat/${room}`, text, { qos: 1, properties: { userProperties: { client_msg_id: id } } });
    const reader = await stack.connect(user, 1);
    const history = await reader.request({ type: 'history', session: room, after_seq: 0, limit: 50 });
    expect(history.type).toBe('history');
    const messages = (history.messages as { text: string; from: string }[]).filter((m) => m.text === text);
    expect(messages).toEqual([expect.objectContaining({ text, from: user })]);
  });
});
