/**
 * Property-based fuzzing of the MQTT 5 front door against both gateways: thousands of packets
 * (valid ones generated with mqtt-packet, the same mutated, truncated, random bytes, wrong packet
 * types, bad lengths, oversized packets and fuzzed CONNECTs) over parallel connections, while two
 * users keep chatting. Afterwards a fresh MQTT client and a WebSocket client must still work.
 *
 * FUZZ_SEED=<n> replays a run; fast-check prints the seed and the failing case of each worker.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { Packet } from 'mqtt-packet';
import { setup } from '@tracechat/testkit';
import type { TestStack } from '@tracechat/testkit';
import { chatPair } from './chat-pair';
import { SERVER_DISCONNECT_ERRORS, expectationOf, mqttCase } from './fuzz-mqtt-packets';
import type { MqttCase } from './fuzz-mqtt-packets';
import { RawMqtt, connectMqtt, inbox, mqttPort } from './mqtt-kit';

const WORKERS = 12;
const TOTAL_CASES = 10_200;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
/** A reply or a close takes milliseconds; this long after a complete packet means the gateway hangs. */
const REPLY_TIMEOUT_MS = 10_000;
/** After bytes that may leave a packet unfinished the gateway rightly waits: give up this soon. */
const UNFINISHED_WAIT_MS = 300;
const RSS_GROWTH_LIMIT_MB = 200;

let stack: TestStack;
const pidsAtStart = new Map<string, number | undefined>();

beforeAll(async () => {
  // one fast client per connection: the frame rate limit would refuse most packets first
  const fast = { RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000' };
  stack = await setup({ serviceEnv: { 'gateway-1': fast, 'gateway-2': fast } });
  for (const [name, proc] of stack.processes) pidsAtStart.set(name, proc.pid);
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return kb ? Number(kb[1]) / 1024 : NaN;
}

interface Outcome {
  /** Packets the gateway wrote after the case (pushes of chat messages left out). */
  readonly replies: Packet[];
  readonly closed: boolean;
  /** The reason code of the gateway's DISCONNECT, when it sent one. */
  readonly disconnect?: number;
  /** Nothing came within UNFINISHED_WAIT_MS after bytes that may not end a packet. */
  readonly waiting?: boolean;
  readonly parseError?: string;
}

const code = (p: Packet) => (p as { reasonCode?: number }).reasonCode;
const hex = (n: number | undefined) => (n === undefined ? 'none' : `0x${n.toString(16).padStart(2, '0')}`);

/** One worker: a user and its raw MQTT connection to one gateway, reopened whenever a case ends it. */
class Worker {
  private conn: RawMqtt | undefined;
  maxPacketBytes = 0;
  cases = 0;
  reconnects = 0;

  constructor(
    readonly user: string,
    readonly gateway: 1 | 2,
  ) {}

  private async connection(): Promise<RawMqtt> {
    if (!this.conn || this.conn.closed || this.conn.socket.destroyed) {
      if (this.conn) this.reconnects++;
      const { raw, connack } = await RawMqtt.connected(stack, this.user, this.gateway);
      if (code(connack) !== 0) throw new Error(`CONNACK ${hex(code(connack))} for a valid CONNECT`);
      this.maxPacketBytes = (connack as { properties?: { maximumPacketSize?: number } }).properties?.maximumPacketSize ?? 0;
      this.conn = raw;
    }
    return this.conn;
  }

  async run(c: MqttCase): Promise<Outcome> {
    this.cases++;
    if (c.fresh) return this.runFresh(c);
    const conn = await this.connection();
    const from = conn.packets.length;
    conn.write(c.bytes);
    if (c.abandon) {
      conn.close();
      return { replies: [], closed: true };
    }
    // packets of a connection are answered in order: the PINGRESP of a PINGREQ sent right after
    // marks the end of what the case caused
    conn.send({ cmd: 'pingreq' });
    const complete = c.label === 'valid' || c.label === 'wrong-type' || c.label === 'oversized' || c.label === 'bad-length';
    // a PINGREQ case has a PINGRESP of its own before the sync's
    const ownPings = c.label === 'valid' && c.packet?.cmd === 'pingreq' ? 1 : 0;
    const syncPacket = () => conn.packets.slice(from).filter((p) => p.cmd === 'pingresp')[ownPings];
    // a PINGRESP comes at once, while a SUBACK or PUBACK waits for logic: wait for the ack too
    const expected = c.label === 'valid' ? expectationOf(c, this.maxPacketBytes) : undefined;
    const ackOf = expected?.kind === 'ack' && expected.ack && expected.ack !== 'pingresp' ? expected : undefined;
    const acked = () =>
      !ackOf ||
      conn.packets.slice(from).some((p) => p.cmd === ackOf.ack && (ackOf.packetId === undefined || (p as { messageId?: number }).messageId === ackOf.packetId));
    await conn.until(() => syncPacket() !== undefined && acked(), complete ? REPLY_TIMEOUT_MS : UNFINISHED_WAIT_MS, from);
    const sync = syncPacket();
    const replies = conn.packets.slice(from).filter((p) => p.cmd !== 'publish');
    if (!sync && !conn.closed) {
      if (complete) throw new Error(`no reply and no close within ${REPLY_TIMEOUT_MS} ms; got ${conn.describe()}`);
      conn.close();
      return { replies, closed: false, waiting: true, parseError: conn.parseError?.message };
    }
    // the PINGRESP of the sync itself is not part of the case's answer
    const own = replies.filter((p) => p !== sync);
    const disconnect = own.find((p) => p.cmd === 'disconnect');
    if (disconnect && !conn.closed) await conn.waitClosed(REPLY_TIMEOUT_MS);
    const closed = conn.closed;
    // after bytes that were not one valid packet, what the stream holds next is anyone's guess (a
    // late answer could pass for the next case's): the next case gets a new connection
    if (c.label !== 'valid') conn.close();
    return {
      replies: own,
      closed,
      disconnect: disconnect ? (code(disconnect) ?? 0) : undefined,
      parseError: conn.parseError?.message,
    };
  }

  /** A new connection whose first bytes are the case (a CONNECT, valid or fuzzed). */
  private async runFresh(c: MqttCase): Promise<Outcome> {
    const raw = await RawMqtt.open(mqttPort(stack, this.gateway));
    try {
      raw.write(c.bytes);
      raw.send({ cmd: 'pingreq' });
      const first = await raw.until((p) => p.cmd === 'connack' || p.cmd === 'disconnect' || p.cmd === 'pingresp', UNFINISHED_WAIT_MS * 3);
      const waiting = !first && !raw.closed;
      const disconnect = raw.packets.find((p) => p.cmd === 'disconnect');
      return { replies: [...raw.packets], closed: raw.closed, disconnect: disconnect ? (code(disconnect) ?? 0) : undefined, waiting, parseError: raw.parseError?.message };
    } finally {
      raw.close();
    }
  }

  close(): void {
    this.conn?.close();
  }
}

const stats = {
  cases: 0,
  byLabel: new Map<string, number>(),
  replies: new Map<string, number>(),
  disconnects: new Map<string, number>(),
  waiting: 0,
  closedWithoutDisconnect: 0,
  /** Cases answered 0x80 or 0x83 (unspecified / implementation specific): worth a look. */
  unspecified: [] as string[],
};

function count<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Checks one case's outcome against what MQTT 5 allows; a message when it breaks. */
function verdict(c: MqttCase, outcome: Outcome, maxPacketBytes: number): string | undefined {
  if (outcome.parseError) return `the gateway wrote bytes that are not MQTT 5 packets: ${outcome.parseError}`;
  if (outcome.disconnect !== undefined && !SERVER_DISCONNECT_ERRORS.has(outcome.disconnect)) {
    return `DISCONNECT with ${hex(outcome.disconnect)}, not an error reason code a server may send`;
  }
  if (c.fresh) {
    // a CONNECT's answer is a CONNACK (success only for a valid one) or the end of the connection
    const connack = outcome.replies.find((p) => p.cmd === 'connack');
    if (connack && code(connack) === 0 && c.label === 'connect' && outcome.replies.some((p) => p.cmd === 'disconnect')) {
      return `CONNACK success then DISCONNECT ${hex(outcome.disconnect)}`;
    }
    return undefined;
  }
  const expected = expectationOf(c, maxPacketBytes);
  const replied = JSON.stringify(outcome.replies.map((p) => ({ ...p, payload: undefined })));
  if (outcome.replies.some((p) => p.cmd === 'connack')) return `a CONNACK on a connected connection: ${replied}`;
  if (expected.kind === 'close') {
    if (!outcome.closed) return `expected the connection to end${expected.reason ? ` with ${hex(expected.reason)}` : ''}, got ${replied}`;
    if (expected.reason !== undefined && outcome.disconnect !== expected.reason) {
      return `expected DISCONNECT ${hex(expected.reason)}, got ${hex(outcome.disconnect)} after ${replied}`;
    }
    return undefined;
  }
  if (expected.kind === 'ack') {
    if (outcome.closed) {
      // a valid packet the gateway will not serve (a topic it refuses, QoS it does not offer, …)
      // may end the connection, but only with a DISCONNECT that names why
      return outcome.disconnect === undefined ? `a valid packet ended the connection without a DISCONNECT: ${replied}` : undefined;
    }
    if (expected.ack) {
      const ack = outcome.replies.find((p) => p.cmd === expected.ack && (expected.packetId === undefined || (p as { messageId?: number }).messageId === expected.packetId));
      if (!ack) return `expected ${expected.ack}${expected.packetId ? ` for packet id ${expected.packetId}` : ''}, got ${replied}`;
    }
  }
  return undefined;
}

/** Every process of the stack still runs as the one started: none exited or was restarted. */
function expectNoProcessRestarted(): void {
  for (const [name, proc] of stack.processes) {
    expect({ name, running: proc.running, restarts: proc.restarts, pid: proc.pid }).toEqual({ name, running: true, restarts: 0, pid: pidsAtStart.get(name) });
  }
}

describe('MQTT protocol fuzzing', () => {
  it('answers every packet with MQTT packets or a DISCONNECT with a reason, on both gateways, and nothing else breaks', async () => {
    const started = Date.now();
    const gatewayPids = [1, 2].map((n) => stack.processes.get(`gateway-${n}` as 'gateway-1')!.pid!);
    const { alice, bob, send } = await chatPair(stack, 'fuzz-mqtt-chat', [1, 2]);
    let exchanged = 0;
    const exchange = async (n: number) => {
      for (const [from, to] of [
        [alice, bob],
        [bob, alice],
      ] as const) {
        try {
          await send(from, to, `chat ${n} ${from === alice ? 'a→b' : 'b→a'}`);
        } catch (err) {
          expectNoProcessRestarted();
          throw err;
        }
        exchanged++;
      }
    };
    await exchange(0);

    const rssBefore = gatewayPids.map(rssMb);
    const rssMax = [...rssBefore];
    const sampler = setInterval(() => gatewayPids.forEach((pid, i) => (rssMax[i] = Math.max(rssMax[i]!, rssMb(pid)))), 200);
    let fuzzing = true;
    const chatting = (async () => {
      for (let n = 1; fuzzing; n++) {
        await exchange(n);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // sessions the fuzz users share, so generated subscribes and publishes meet
    const sessions = ['a', 'b', 'c'].map((s) => stack.session(`fuzz-${s}`));
    // public, so any fuzz user's SUBSCRIBE joins them and its publishes there are accepted
    for (const session of sessions) {
      expect(await alice.request({ type: 'join', session, public: true })).toMatchObject({ type: 'joined' });
    }
    const workers = Array.from({ length: WORKERS }, (_, i) => new Worker(stack.user(`mqttfuzz${i}`), i % 2 === 0 ? 1 : 2));
    try {
      await Promise.all(
        workers.map(async (worker, i) => {
          // connect first: the CONNACK names the maximum packet size the cases are built around
          await worker.run({ label: 'valid', bytes: Buffer.from([0xc0, 0x00]), packet: { cmd: 'pingreq' } });
          const max = worker.maxPacketBytes;
          if (!(max > 0)) throw new Error('the CONNACK named no maximum packet size');
          const property = fc.asyncProperty(mqttCase(sessions, max, worker.user, stack.token(worker.user)), async (c) => {
            const outcome = await worker.run(c);
            const problem = verdict(c, outcome, max);
            if (problem) throw new Error(`gateway-${worker.gateway} ${c.label} ${c.bytes.subarray(0, 64).toString('hex')}: ${problem}`);
            stats.cases++;
            count(stats.byLabel, c.label);
            for (const p of outcome.replies) count(stats.replies, code(p) === undefined ? p.cmd : `${p.cmd} ${hex(code(p))}`);
            if (outcome.disconnect !== undefined) count(stats.disconnects, hex(outcome.disconnect));
            else if (outcome.closed && !c.abandon) stats.closedWithoutDisconnect++;
            if (outcome.waiting) stats.waiting++;
            if (outcome.replies.some((p) => code(p) === 0x80 || code(p) === 0x83) && stats.unspecified.length < 5) {
              const p = c.packet as { cmd?: string; topic?: string; payload?: Buffer; properties?: unknown } | undefined;
              stats.unspecified.push(
                `${c.label} ${p?.cmd ?? ''} ${p?.topic ?? ''} ${p?.payload ? JSON.stringify(p.payload.toString('utf8').slice(0, 40)) : c.bytes.subarray(0, 32).toString('hex')} ${JSON.stringify(p?.properties ?? {})}`,
              );
            }
          });
          await fc.assert(property, { numRuns: Math.ceil(TOTAL_CASES / WORKERS), seed: SEED + i });
        }),
      );
    } finally {
      fuzzing = false;
      clearInterval(sampler);
      await chatting;
      for (const w of workers) w.close();
    }
    await exchange(-1);

    // a fresh MQTT client on each gateway still connects, subscribes and receives a WebSocket
    // user's message, and its own publish reaches the WebSocket user
    for (const gateway of [1, 2] as const) {
      const user = stack.user(`after-fuzz-${gateway}`);
      const room = stack.session(`after-fuzz-${gateway}`);
      const ws = await stack.connect(stack.user(`after-fuzz-ws-${gateway}`), gateway === 1 ? 2 : 1);
      expect(await ws.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
      const client = await connectMqtt(stack, user, gateway);
      try {
        const box = inbox(client);
        const granted = await client.subscribeAsync(`chat/${room}`, { qos: 1 });
        expect(granted[0]!.qos).toBeLessThan(0x80);
        const ack = await ws.request({ type: 'send', session: room, text: `still here ${gateway}` });
        expect(ack).toMatchObject({ type: 'ack' });
        expect((await box.next((m) => m.text === `still here ${gateway}`)).props.message_id).toBe(ack.message_id);
        const pushed = ws.waitFor((f) => f.type === 'message' && f.text === `and back ${gateway}`, 20_000, 'push of the MQTT publish');
        await client.publishAsync(`chat/${room}`, `and back ${gateway}`, { qos: 1 });
        expect(await pushed).toMatchObject({ from: user, session: room });
      } finally {
        await client.endAsync(true);
      }
    }

    const seconds = (Date.now() - started) / 1000;
    console.log(
      [
        `mqtt fuzz seed ${SEED}: ${stats.cases} cases in ${seconds.toFixed(1)} s over ${WORKERS} connections (both gateways)`,
        `  cases: ${JSON.stringify(Object.fromEntries(stats.byLabel))}`,
        `  replies: ${JSON.stringify(Object.fromEntries(stats.replies))}`,
        `  disconnects: ${JSON.stringify(Object.fromEntries(stats.disconnects))}, closed without DISCONNECT: ${stats.closedWithoutDisconnect}, left waiting for bytes: ${stats.waiting}, reconnects: ${workers.reduce((n, w) => n + w.reconnects, 0)}`,
        ...(stats.unspecified.length > 0 ? [`  answered 0x80/0x83: ${stats.unspecified.join(' | ')}`] : []),
        `  chat: ${exchanged} messages acked and pushed; gateway RSS ${rssBefore.map((r) => r.toFixed(0)).join(', ')} MB → max ${rssMax.map((r) => r.toFixed(0)).join(', ')} MB`,
      ].join('\n'),
    );

    expect(stats.cases).toBeGreaterThanOrEqual(10_000);
    for (const label of ['valid', 'mutated', 'random', 'truncated', 'wrong-type', 'bad-length', 'oversized', 'connect']) {
      expect([label, (stats.byLabel.get(label) ?? 0) > 0]).toEqual([label, true]);
    }
    // valid packets reached their handlers
    for (const reply of ['pingresp', 'suback', 'unsuback', 'puback 0x00']) {
      expect([reply, [...stats.replies.keys()].some((k) => k.startsWith(reply))]).toEqual([reply, true]);
    }
    expect(stats.disconnects.get('0x95') ?? 0).toBeGreaterThan(0);
    expect(stats.disconnects.get('0x81') ?? 0).toBeGreaterThan(0);
    expect(exchanged).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < 2; i++) expect(rssMax[i]! - rssBefore[i]!).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expectNoProcessRestarted();
    for (const gateway of ['gateway-1', 'gateway-2']) {
      expect(readFileSync(`${stack.logDir}/${gateway}.log`, 'utf8')).not.toMatch(/uncaught|unhandled/i);
    }
  }, 600_000);
});
