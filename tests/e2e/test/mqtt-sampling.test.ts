/**
 * Head sampling applies to MQTT clients as to WebSocket ones (head-sampling.test.ts): at ratio 0
 * nothing ordinary is kept, but a whitelisted user's or session's publishes are, a `debug` user
 * property is, a sampled `traceparent` is followed, and an event switched off (session spans on
 * gateway-2) stays off for MQTT subscribes. The trace id of a publish is read from the push the
 * WebSocket receiver gets (a PUBACK carries none).
 */
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { assertAbsentAfterControl, fetchTrace, searchTraces, setup, waitFor } from '@tracechat/testkit';
import type { ChatClient, TestStack } from '@tracechat/testkit';
import { connectMqtt } from './mqtt-kit';

let stack: TestStack;
const clients: MqttClient[] = [];
let admin: (method: string, path: string, body?: unknown) => Promise<Response>;

beforeAll(async () => {
  stack = await setup({
    env: { TRACECHAT_SAMPLING_RATIO: '0', WHITELIST_SYNC_INTERVAL_MS: '1000' },
    serviceEnv: { 'gateway-2': { TRACECHAT_SAMPLE_SESSION: 'false' } },
  });
  admin = (method, path, body) =>
    fetch(`${stack.adminUrls[0]}/admin/sampling/whitelist${path}`, {
      method,
      headers: { authorization: `Bearer ${stack.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.endAsync(true)));
  await stack?.cleanup();
});

const isKept = async (traceId: string) => (await fetchTrace(stack.jaegerUrl, traceId)) !== undefined;

/** An MQTT publisher and a WebSocket receiver (on the other gateway) in a new public session. */
async function pair(name: string, gateway: 1 | 2): Promise<{ publisher: string; mqtt: MqttClient; receiver: ChatClient; room: string }> {
  const publisher = stack.user(`${name}-pub`);
  const room = stack.session(name);
  const receiver = await stack.connect(stack.user(`${name}-ws`), gateway === 1 ? 2 : 1);
  expect(await receiver.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
  const mqtt = await connectMqtt(stack, publisher, gateway);
  clients.push(mqtt);
  // subscribing to a public session joins it: the publisher becomes a member
  const granted = await mqtt.subscribeAsync(`chat/${room}`, { qos: 1 });
  expect(granted[0]!.qos).toBeLessThan(0x80);
  return { publisher, mqtt, receiver, room };
}

/** Publishes `text` (QoS 1) with user properties; resolves with its trace id, read from the push. */
async function publish(p: { mqtt: MqttClient; receiver: ChatClient; room: string }, text: string, userProperties: Record<string, string> = {}): Promise<string> {
  const pushed = p.receiver.waitFor((f) => f.type === 'message' && f.text === text, 20_000, `push of "${text}"`);
  // (mqtt-packet writes nothing for an empty user property list: leave it out then)
  const properties = Object.keys(userProperties).length > 0 ? { properties: { userProperties } } : {};
  await p.mqtt.publishAsync(`chat/${p.room}`, text, { qos: 1, ...properties });
  const frame = await pushed;
  expect(frame.trace_id).toMatch(/^[0-9a-f]{32}$/);
  return String(frame.trace_id);
}

let probes = 0;
/** A probe publish, then a debug one (kept at any ratio): tells whether the probe was kept. */
async function probeKept(p: { mqtt: MqttClient; receiver: ChatClient; room: string }): Promise<boolean> {
  const probe = await publish(p, `probe ${++probes}`);
  const control = await publish(p, `control ${probes}`, { debug: 'true' });
  await waitFor(() => isKept(control), { timeoutMs: 15_000, intervalMs: 250, what: `control trace ${control}` });
  return isKept(probe);
}

async function expectProbesKept(p: { mqtt: MqttClient; receiver: ChatClient; room: string }, wanted: boolean): Promise<void> {
  await waitFor(async () => (await probeKept(p)) === wanted, { timeoutMs: 20_000, intervalMs: 0, what: `an MQTT probe ${wanted ? 'kept' : 'dropped'}` });
}

describe('head sampling of MQTT clients at ratio 0', () => {
  it('keeps no ordinary publish, and a publish with a debug user property', async () => {
    const p = await pair('mqtt-plain', 1);
    expect(await probeKept(p)).toBe(false);
  });

  it('keeps a whitelisted user’s publishes on both gateways, and stops after removal', async () => {
    const p1 = await pair('mqtt-vip-1', 1);
    const vip = p1.publisher;
    const mqtt2 = await connectMqtt(stack, vip, 2);
    clients.push(mqtt2);
    // the same user on gateway-2 (a member already), its receiver on gateway-1
    const p2 = { mqtt: mqtt2, receiver: p1.receiver, room: p1.room };
    expect((await admin('POST', '', { kind: 'users', id: vip })).status).toBe(201);
    expect(await probeKept(p1)).toBe(true);
    await expectProbesKept(p2, true);
    expect((await admin('DELETE', `/users/${vip}`)).status).toBe(204);
    await expectProbesKept(p2, false);
    await expectProbesKept(p1, false);
  }, 120_000);

  it('keeps every MQTT publish to a whitelisted session (topic), and only there', async () => {
    const watched = await pair('mqtt-watched', 2);
    const other = await pair('mqtt-unwatched', 2);
    expect((await admin('PUT', `/sessions/${watched.room}`)).status).toBe(201);
    await expectProbesKept(watched, true);
    expect(await probeKept(other)).toBe(false);
    expect((await admin('DELETE', `/sessions/${watched.room}`)).status).toBe(204);
    await expectProbesKept(watched, false);
  }, 120_000);

  it('follows a publisher’s sampled traceparent', async () => {
    const p = await pair('mqtt-follow', 1);
    const traceId = randomBytes(16).toString('hex');
    expect(await publish(p, 'sampled upstream', { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` })).toBe(traceId);
    await waitFor(() => isKept(traceId), { timeoutMs: 15_000, intervalMs: 250, what: `trace ${traceId}` });
  });

  it('keeps no MQTT subscribe span where session spans are switched off (gateway-2), even for a whitelisted user', async () => {
    const user = stack.user('mqtt-switches');
    expect((await admin('POST', '', { kind: 'users', id: user })).status).toBe(201);
    const subscribes = async () => (await searchTraces(stack.jaegerUrl, { service: 'gateway', operation: 'gateway.mqtt.subscribe', tags: { 'chat.user.id': user } })).length;
    await pair('mqtt-switch-1', 1);
    const on1 = await connectMqtt(stack, user, 1);
    const off2 = await connectMqtt(stack, user, 2);
    clients.push(on1, off2);
    await on1.subscribeAsync(`chat/${stack.session('mqtt-switch-1')}`, { qos: 1 });
    // gateway-1 picked the whitelist up on the write; gateway-2 within its sync interval
    await waitFor(async () => (await subscribes()) === 1, { timeoutMs: 15_000, intervalMs: 250, what: 'the subscribe span of gateway-1' });
    const room2 = stack.session('mqtt-switch-2');
    const receiver = await stack.connect(stack.user('mqtt-switch-ws'), 1);
    expect(await receiver.request({ type: 'join', session: room2, public: true })).toMatchObject({ type: 'joined' });
    await new Promise((r) => setTimeout(r, 1500));
    await off2.subscribeAsync(`chat/${room2}`, { qos: 1 });
    // gateway-2's later publish by the same (whitelisted) user is kept: once it is in Jaeger, the
    // earlier subscribe span would be too
    await assertAbsentAfterControl({
      sendControl: () => publish({ mqtt: off2, receiver, room: room2 }, 'switch control'),
      controlArrived: (traceId) => isKept(traceId),
      absent: async () => expect(await subscribes()).toBe(1),
      timeoutMs: 15_000,
      intervalMs: 250,
    });
  }, 60_000);
});
