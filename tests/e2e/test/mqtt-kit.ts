/**
 * MQTT 5 helpers of the e2e tests: the gateways' MQTT ports, mqtt.js clients, a raw TCP client
 * that speaks packets built with mqtt-packet (for what a well-behaved client never sends), and
 * the Mosquitto command-line clients as spawned processes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import type { TestStack } from '@tracechat/testkit';

/** gateway-1's or gateway-2's MQTT port on the test stack. */
export function mqttPort(stack: TestStack, gateway: 1 | 2): number {
  return gateway === 1 ? stack.ports.mqtt1 : stack.ports.mqtt2;
}

/**
 * Fails (never skips) when the Mosquitto clients are missing: CI installs them (.ci/run,
 * Debian's mosquitto-clients), so a missing one is a broken machine, not an optional test.
 */
export function requireMosquittoClients(): void {
  for (const tool of ['mosquitto_pub', 'mosquitto_sub']) {
    const probe = spawnSync(tool, ['--help'], { encoding: 'utf8' });
    if (probe.error) {
      throw new Error(
        `${tool} is not installed (${probe.error.message}): the MQTT tests drive the gateways with the Mosquitto clients. ` +
          'Install them (Debian/Ubuntu: apt-get install mosquitto-clients; .ci/run does it in CI).',
      );
    }
  }
}

/** An mqtt.js MQTT 5 client of `user` (password: its token) on a gateway's MQTT port. */
export async function connectMqtt(
  stack: TestStack,
  user: string,
  gateway: 1 | 2,
  options: IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort(stack, gateway)}`, {
    protocolVersion: 5,
    clientId: `${user}-${Math.random().toString(16).slice(2, 10)}`,
    username: user,
    password: stack.token(user),
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...options,
  });
}

/** A received PUBLISH: topic, payload text and user properties. */
export interface Received {
  readonly topic: string;
  readonly text: string;
  readonly props: Record<string, string>;
}

function flatten(props: Record<string, string | string[]> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(props ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v[0]! : v]));
}

/** Collects an mqtt.js client's messages; `next` waits for one that matches. */
export function inbox(client: MqttClient): { readonly messages: Received[]; next(match: (m: Received) => boolean, ms?: number): Promise<Received> } {
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, text: payload.toString('utf8'), props: flatten(packet.properties?.userProperties) });
    for (const wake of waiters) wake();
  });
  return {
    messages,
    next: (match, ms = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(match);
          if (!found) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching MQTT message within ${ms} ms; got ${JSON.stringify(messages)}`));
        }, ms);
        if (!check()) waiters.add(check);
      }),
  };
}

/**
 * A TCP connection speaking MQTT packets built by hand (mqtt-packet), for what mqtt.js refuses to
 * send: every packet the gateway writes back is parsed and kept, and `closed` tells when it hung up.
 */
export class RawMqtt {
  readonly packets: Packet[] = [];
  closed = false;
  /** The gateway's bytes did not parse as MQTT 5 packets. */
  parseError: Error | undefined;
  private readonly parser = mqttPacket.parser({ protocolVersion: 5 });
  private wakers = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    this.parser.on('packet', (packet: Packet) => {
      this.packets.push(packet);
      this.wake();
    });
    this.parser.on('error', (err: Error) => {
      this.parseError = err;
      this.wake();
    });
    socket.on('data', (data) => this.parser.parse(data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.wakers) w();
  }

  static open(port: number): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RawMqtt(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Opens a connection and completes a valid CONNECT of `user`; resolves with it and the CONNACK. */
  static async connected(stack: TestStack, user: string, gateway: 1 | 2): Promise<{ raw: RawMqtt; connack: Packet }> {
    const raw = await RawMqtt.open(mqttPort(stack, gateway));
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      clientId: `${user}-raw-${Math.random().toString(16).slice(2, 10)}`,
      keepalive: 60,
      username: user,
      password: Buffer.from(stack.token(user)),
    });
    const connack = await raw.until((p) => p.cmd === 'connack', 10_000);
    if (!connack) throw new Error(`no CONNACK for ${user}: ${raw.describe()}`);
    return { raw, connack };
  }

  send(packet: Packet): void {
    this.write(mqttPacket.generate(packet, { protocolVersion: 5 }));
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The first packet since `from` that matches, or undefined once closed or after `ms`. */
  async until(match: (p: Packet) => boolean, ms: number, from = 0): Promise<Packet | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.packets.slice(from).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.wakers.add(wake);
      });
    }
  }

  /** Resolves once the gateway closed the connection (true), or false after `ms`. */
  async waitClosed(ms: number): Promise<boolean> {
    await this.until(() => false, ms);
    return this.closed;
  }

  describe(): string {
    return `packets ${JSON.stringify(this.packets.map((p) => ({ cmd: p.cmd, reasonCode: (p as { reasonCode?: number }).reasonCode })))}, closed ${this.closed}`;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The reason code of a DISCONNECT the gateway sent, if it sent one. */
export function disconnectReason(raw: RawMqtt): number | undefined {
  const packet = raw.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
  return packet ? (packet.reasonCode ?? 0) : undefined;
}

/** A line mosquitto_sub printed with `-F '%p %P'`: the payload and `name:value` user properties. */
export interface PrintedMessage {
  readonly line: string;
  readonly props: Record<string, string>;
}

/** Parses `<payload> name:value name:value …` given the payload text it starts with. */
export function parsePrinted(line: string, payload: string): PrintedMessage {
  const rest = line.slice(payload.length).trim();
  const props: Record<string, string> = {};
  for (const pair of rest.split(/\s+/).filter(Boolean)) {
    const colon = pair.indexOf(':');
    if (colon > 0) props[pair.slice(0, colon)] = pair.slice(colon + 1);
  }
  return { line, props };
}

/**
 * mosquitto_sub on a gateway, subscribed to `chat/<session>`, printing each message as
 * `<payload> <user properties>` (`-F '%p %P'`); `-d` shows the SUBACK, which `subscribed` waits for.
 */
export class MosquittoSub {
  readonly lines: string[] = [];
  stderr = '';
  exitCode: number | null = null;
  private buffer = '';
  private wakers = new Set<() => void>();

  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      this.buffer += chunk;
      const parts = this.buffer.split('\n');
      this.buffer = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    proc.on('exit', (code) => {
      this.exitCode = code ?? -1;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.wakers) w();
  }

  static start(stack: TestStack, user: string, gateway: 1 | 2, session: string): MosquittoSub {
    // line-buffered output (stdbuf, coreutils): a pipe would hold the SUBACK and messages back
    const args = ['-d', '-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(mqttPort(stack, gateway)), '-u', user, '-P', stack.token(user), '-t', `chat/${session}`, '-F', '%p %P'];
    const proc = existsSync('/usr/bin/stdbuf')
      ? spawn('/usr/bin/stdbuf', ['-oL', 'mosquitto_sub', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('mosquitto_sub', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    return new MosquittoSub(proc);
  }

  /** The first stdout line that matches; rejects after `ms` or when mosquitto_sub exits first. */
  async line(match: (line: string) => boolean, ms = 20_000, what = 'line'): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (this.exitCode !== null || left <= 0) {
        throw new Error(`mosquitto_sub printed no ${what} (exit ${this.exitCode}); stdout ${JSON.stringify(this.lines)}, stderr ${JSON.stringify(this.stderr)}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.wakers.add(wake);
      });
    }
  }

  /** Waits for the SUBACK; resolves with its reason code (`Subscribed (mid: 1): <code>`). */
  async subscribed(ms = 15_000): Promise<number> {
    const line = await this.line((l) => /^Subscribed \(mid: \d+\): \d+/.test(l), ms, 'SUBACK');
    return Number(/: (\d+)/.exec(line.slice(line.indexOf(')')))![1]);
  }

  stop(): void {
    if (this.exitCode === null) this.proc.kill('SIGTERM');
  }
}

/** Runs mosquitto_pub to completion; resolves with its exit code and output. */
export function mosquittoPub(
  stack: TestStack,
  user: string,
  gateway: 1 | 2,
  session: string,
  message: string,
  extra: readonly string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      'mosquitto_pub',
      ['-d', '-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(mqttPort(stack, gateway)), '-u', user, '-P', stack.token(user), '-t', `chat/${session}`, '-m', message, ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.on('error', reject);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
