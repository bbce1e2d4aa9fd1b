// The load of `tracechat bench`: per session one sender and one receiver, open loop (a fixed
// total rate, latency from each message's intended send time) or closed loop (K sends in flight
// per sender). Speaks only protocol v1 (docs/protocol.md), so it drives any gateway version and
// the no-op floor server alike; with `senderMqttUrl` the senders publish over MQTT 5 instead
// (QoS 1, PUBACK as the ack) while the receivers stay on the WebSocket.
import { performance } from 'node:perf_hooks';
import { ChatClient } from '@tracechat/client';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { mapLimit, round, summarize } from './stats';
import type { LatencySummary } from './stats';

/** Where the load goes: senders connect to one URL, receivers to the other. */
export interface LoadTarget {
  readonly senderUrl: string;
  readonly receiverUrl: string;
  /** Unique to the run: session and user ids carry it, so runs never share a session. */
  readonly run: string;
  token(user: string): string | undefined;
  /**
   * Senders publish here over MQTT 5 (`mqtt://host:port` of the sender gateway's MQTT listener)
   * instead of sending on the WebSocket; each still joins its session over the WebSocket first
   * (creating it public), then publishes QoS 1 to `chat/<session>` with a `client_msg_id`.
   */
  readonly senderMqttUrl?: string;
}

export interface LoadOptions {
  readonly sessions: number;
  /** Total messages per second over all sessions (open loop); unused when `inFlight` is set. */
  readonly rate: number;
  /** Closed loop: each sender keeps this many sends waiting for their ack, with no rate. */
  readonly inFlight?: number;
  readonly seconds: number;
  /** Seconds of load before the measured window; their samples are discarded. */
  readonly warmup: number;
  /** Longest wait after the last send for the acks and pushes still due. */
  readonly drainSeconds: number;
  /**
   * A send without ack (or error) after this long counts as an error (`ack_timeout`); an ack
   * that still comes later is timed like any other.
   */
  readonly ackTimeoutMs?: number;
  /** Size of each message's text in bytes (the tag plus padding). */
  readonly textBytes?: number;
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Called as the measured window opens and closes (CPU is sampled there). */
  readonly onWindow?: (edge: 'start' | 'end') => void;
}

export interface LoadProgress {
  readonly elapsedSeconds: number;
  readonly phase: 'warm-up' | 'measuring' | 'draining';
  readonly sent: number;
  readonly acked: number;
  readonly delivered: number;
  readonly errors: number;
  /** Pushes received in the last second. */
  readonly deliveredPerSecond: number;
}

export interface LoadResult {
  readonly mode: 'open' | 'closed';
  /** How senders sent: `send` frames on the WebSocket, or MQTT 5 PUBLISH QoS 1 (ack = PUBACK). */
  readonly sender: 'websocket' | 'mqtt';
  readonly sessions: number;
  /** The open loop's target rate (null in closed loop). */
  readonly targetRate: number | null;
  readonly inFlight: number | null;
  readonly warmupSeconds: number;
  readonly windowSeconds: number;
  /** Whole run, warm-up and drain included. */
  readonly sent: number;
  readonly acked: number;
  readonly delivered: number;
  readonly duplicatePushes: number;
  /** Counts in the measured window: sends written, acks and first pushes received. */
  readonly window: { readonly sent: number; readonly acked: number; readonly delivered: number };
  readonly sentPerSecond: number | null;
  readonly ackedPerSecond: number | null;
  /** Pushes received in the measured window per second: the throughput figure. */
  readonly deliveredPerSecond: number | null;
  /** From the intended send time (open loop) or the send (closed loop) to the ack. */
  readonly ack: LatencySummary;
  /** From the same start to the push at the receiver. */
  readonly push: LatencySummary;
  readonly errors: { readonly total: number; readonly byKind: Record<string, number> };
}

export interface LoadRun {
  readonly result: LoadResult;
  /** Trace ids (from the acks) of measured messages, in send order. */
  readonly traceIds: { readonly delivered: string[]; readonly undelivered: string[] };
}

interface Message {
  /** When it should have been sent (open loop) or was sent (closed loop), performance.now() ms. */
  readonly intended: number;
  sentAt: number;
  ackAt?: number;
  pushAt?: number;
  traceId?: string;
  /** The code of the error frame that answered it. */
  error?: string;
}

/** A sender's connection: the WebSocket client, or an MQTT client publishing to the session. */
type SenderLink =
  | { readonly kind: 'websocket'; readonly client: ChatClient }
  | { readonly kind: 'mqtt'; readonly client: MqttClient };

interface Session {
  readonly index: number;
  readonly id: string;
  readonly sender: SenderLink;
  readonly receiver: ChatClient;
  readonly messages: Message[];
  /** Indexes of sends waiting for their ack. */
  readonly pending: Set<number>;
  closed: boolean;
}

const TAG = /^b:(\d+):(\d+) /;

/** Runs the load and closes its connections; throws only when the set-up fails. */
export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadRun> {
  const closedLoop = options.inFlight !== undefined && options.inFlight > 0;
  const ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
  const textBytes = options.textBytes ?? 100;
  const errors: Record<string, number> = {};
  const count = (kind: string, n = 1) => (errors[kind] = (errors[kind] ?? 0) + n);

  const sessions: Session[] = [];
  const clients: ChatClient[] = [];
  const mqttClients: MqttClient[] = [];
  const connect = async (url: string, user: string) => {
    const client = await ChatClient.connect(url, { token: target.token(user), timeoutMs: 15_000 });
    clients.push(client);
    return client;
  };
  const closeAll = async () => {
    await Promise.allSettled([
      ...clients.map((c) => c.close()),
      ...mqttClients.map((c) => c.endAsync(true)),
    ]);
  };
  try {
    await mapLimit(
      Array.from({ length: options.sessions }, (_, i) => i),
      8,
      async (index) => {
        const id = `bench-${target.run}-${index}`;
        const senderUser = `bench-s${index}-${target.run}`;
        const senderWs = await connect(target.senderUrl, senderUser);
        const receiver = await connect(target.receiverUrl, `bench-r${index}-${target.run}`);
        for (const [client, join] of [
          [senderWs, { type: 'join', session: id, public: true }],
          [receiver, { type: 'join', session: id }],
        ] as const) {
          const reply = await client.request(join, 15_000);
          if (reply.type !== 'joined') throw new Error(`join failed: ${JSON.stringify(reply)}`);
        }
        let sender: SenderLink = { kind: 'websocket', client: senderWs };
        if (target.senderMqttUrl) {
          // the WebSocket made the sender a member; it publishes over MQTT from here on (and,
          // never subscribing, gets no pushes there)
          await senderWs.close();
          const client = await mqtt.connectAsync(target.senderMqttUrl, {
            protocolVersion: 5,
            clientId: `${senderUser}-mqtt`,
            username: senderUser,
            password: target.token(senderUser) ?? '',
            clean: true,
            reconnectPeriod: 0,
            connectTimeout: 15_000,
          });
          mqttClients.push(client);
          sender = { kind: 'mqtt', client };
        }
        sessions[index] = {
          index,
          id,
          sender,
          receiver,
          messages: [],
          pending: new Set(),
          closed: false,
        };
      },
    );
  } catch (err) {
    await closeAll();
    throw err;
  }

  let sent = 0;
  let acked = 0;
  let delivered = 0;
  let duplicatePushes = 0;
  let errorCount = 0;
  /** Acked messages whose push has not come yet. */
  let awaitingPush = 0;
  const window = { sent: 0, acked: 0, delivered: 0 };

  const t0 = performance.now() + 50;
  const windowStart = t0 + options.warmup * 1000;
  const windowEnd = windowStart + options.seconds * 1000;
  const inWindow = (t: number) => t >= windowStart && t < windowEnd;
  const padding = (tag: string) => 'x'.repeat(Math.max(0, textBytes - tag.length));

  const fail = (kind: string, n = 1) => {
    count(kind, n);
    errorCount += n;
  };

  let sending = true;
  let drained: (() => void) | undefined;
  const checkDrained = () => {
    if (drained && !sending && awaitingPush === 0 && sessions.every((s) => s.pending.size === 0))
      drained();
  };

  const send = (session: Session, intended: number) => {
    if (session.closed) return;
    const n = session.messages.length;
    const now = performance.now();
    session.messages.push({ intended, sentAt: now });
    session.pending.add(n);
    const tag = `b:${session.index}:${n} `;
    const text = tag + padding(tag);
    const clientMsgId = `b-${target.run}-${session.index}-${n}`;
    if (session.sender.kind === 'websocket') {
      session.sender.client.send({
        type: 'send',
        id: String(n),
        session: session.id,
        text,
        client_msg_id: clientMsgId,
      });
    } else {
      session.sender.client.publish(
        `chat/${session.id}`,
        text,
        { qos: 1, properties: { userProperties: { client_msg_id: clientMsgId } } },
        (err) => mqttSettled(session, n, err),
      );
    }
    sent++;
    if (inWindow(now)) window.sent++;
  };

  /** A send is over (ack, error or timeout): the closed loop sends the next one. */
  const settled = (session: Session, n: number) => {
    if (!session.pending.delete(n)) return; // a late reply to a send already timed out
    if (closedLoop && sending && performance.now() < windowEnd) send(session, performance.now());
    checkDrained();
  };

  /** The PUBACK of an MQTT sender's publish (or the error mqtt.js makes of a failure code). */
  const mqttSettled = (session: Session, n: number, err: unknown) => {
    const now = performance.now();
    const message = session.messages[n];
    if (!message) return;
    if (err) {
      const code = (err as { code?: unknown }).code;
      fail(`puback ${typeof code === 'number' ? `0x${code.toString(16)}` : String(err)}`);
      if (message.ackAt === undefined) {
        message.error = typeof code === 'number' ? String(code) : 'publish_failed';
        settled(session, n);
      }
      return;
    }
    if (message.ackAt === undefined && message.error === undefined) {
      message.ackAt = now;
      acked++;
      if (inWindow(now)) window.acked++;
      if (message.pushAt === undefined) awaitingPush++;
    }
    settled(session, n);
  };

  for (const session of sessions) {
    if (session.sender.kind === 'mqtt') {
      const client = session.sender.client;
      client.on('message', () => fail('push_to_sender'));
      client.on('error', (err) => fail(`mqtt ${err.message}`));
      client.once('close', () => {
        if (sending || drained) fail('connection_closed');
        session.closed = true;
      });
    } else
      session.sender.client.onFrame((frame) => {
        const now = performance.now();
        const n = typeof frame.id === 'string' ? Number(frame.id) : NaN;
        const message = Number.isInteger(n) ? session.messages[n] : undefined;
        if (frame.type === 'ack' && message) {
          if (message.ackAt === undefined && message.error === undefined) {
            message.ackAt = now;
            message.traceId = typeof frame.trace_id === 'string' ? frame.trace_id : undefined;
            acked++;
            if (inWindow(now)) window.acked++;
            if (frame.duplicate === true) fail('duplicate_ack');
            if (message.pushAt === undefined) awaitingPush++;
          }
          settled(session, n);
        } else if (frame.type === 'error') {
          fail(`error ${String(frame.code)}`);
          if (message && message.ackAt === undefined) {
            message.error = String(frame.code);
            settled(session, n);
          }
        } else if (frame.type === 'message') {
          fail('push_to_sender');
        } else {
          fail(`unexpected ${frame.type}`);
        }
        return true;
      });
    session.receiver.onFrame((frame) => {
      const now = performance.now();
      if (frame.type === 'message') {
        const tag = TAG.exec(typeof frame.text === 'string' ? frame.text : '');
        const message =
          tag && Number(tag[1]) === session.index ? session.messages[Number(tag[2])] : undefined;
        if (!message) {
          fail('unmatched_push');
        } else if (message.pushAt !== undefined) {
          duplicatePushes++;
        } else {
          message.pushAt = now;
          // a PUBACK has no trace id: the push names the message's trace
          if (message.traceId === undefined && typeof frame.trace_id === 'string')
            message.traceId = frame.trace_id;
          delivered++;
          if (inWindow(now)) window.delivered++;
          if (message.ackAt !== undefined && message.error === undefined) awaitingPush--;
        }
        // as a real client confirms what it has shown (this closes the delivery in the trace)
        session.receiver.send({
          type: 'received',
          message_id: frame.message_id,
          ...(typeof frame.traceparent === 'string' ? { traceparent: frame.traceparent } : {}),
        });
        checkDrained();
      } else if (frame.type === 'error') {
        fail(`receiver error ${String(frame.code)}`);
      } else {
        fail(`unexpected ${frame.type}`);
      }
      return true;
    });
    const sockets = [
      session.receiver,
      ...(session.sender.kind === 'websocket' ? [session.sender.client] : []),
    ];
    for (const client of sockets) {
      client.socket.once('close', () => {
        if (sending || drained) fail('connection_closed');
        session.closed = true;
      });
    }
  }

  const expireAcks = () => {
    const now = performance.now();
    for (const session of sessions) {
      for (const n of [...session.pending]) {
        const message = session.messages[n]!;
        if (now - message.sentAt > ackTimeoutMs) {
          fail('ack_timeout');
          settled(session, n);
        }
      }
    }
  };

  // progress once a second, and the sweep for lost acks
  let lastDelivered = 0;
  const progress = setInterval(() => {
    expireAcks();
    const now = performance.now();
    options.onProgress?.({
      elapsedSeconds: (now - t0) / 1000,
      phase: now < windowStart ? 'warm-up' : sending ? 'measuring' : 'draining',
      sent,
      acked,
      delivered,
      errors: errorCount,
      deliveredPerSecond: delivered - lastDelivered,
    });
    lastDelivered = delivered;
  }, 1000);

  const windowTimers = [
    setTimeout(() => options.onWindow?.('start'), windowStart - performance.now()),
    setTimeout(() => options.onWindow?.('end'), windowEnd - performance.now()),
  ];

  try {
    await new Promise<void>((resolve) => {
      if (closedLoop) {
        setTimeout(
          () => {
            for (const session of sessions)
              for (let k = 0; k < options.inFlight!; k++) send(session, performance.now());
          },
          Math.max(0, t0 - performance.now()),
        );
        setTimeout(resolve, Math.max(0, windowEnd - performance.now()));
        return;
      }
      const total = Math.round(options.rate * (options.warmup + options.seconds));
      const interval = 1000 / options.rate;
      let next = 0;
      const tick = () => {
        const now = performance.now();
        while (next < total && t0 + next * interval <= now) {
          send(sessions[next % sessions.length]!, t0 + next * interval);
          next++;
        }
        if (next < total) setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
        else setTimeout(resolve, Math.max(0, windowEnd - performance.now()));
      };
      setTimeout(tick, Math.max(0, t0 - performance.now()));
    });
    sending = false;

    // drain: wait for what is still due, then count what never came
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(resolve, options.drainSeconds * 1000);
      drained = () => {
        clearTimeout(deadline);
        resolve();
      };
      checkDrained();
    });
    drained = undefined;
  } finally {
    clearInterval(progress);
    for (const timer of windowTimers) clearTimeout(timer);
    sending = false;
    drained = undefined;
    await closeAll();
  }
  for (const session of sessions) {
    if (session.pending.size > 0) fail('ack_timeout', session.pending.size);
    for (const message of session.messages)
      if (
        message.ackAt !== undefined &&
        message.error === undefined &&
        message.pushAt === undefined
      )
        fail('missing_delivery');
  }

  const ackSamples: number[] = [];
  const pushSamples: number[] = [];
  const measured: Message[] = [];
  for (const session of sessions)
    for (const message of session.messages) if (inWindow(message.intended)) measured.push(message);
  measured.sort((a, b) => a.intended - b.intended);
  for (const message of measured) {
    if (message.ackAt !== undefined) ackSamples.push(message.ackAt - message.intended);
    if (message.pushAt !== undefined) pushSamples.push(message.pushAt - message.intended);
  }
  const perSecond = (n: number) => round(n / options.seconds, 1);
  return {
    result: {
      mode: closedLoop ? 'closed' : 'open',
      sender: target.senderMqttUrl ? 'mqtt' : 'websocket',
      sessions: options.sessions,
      targetRate: closedLoop ? null : options.rate,
      inFlight: closedLoop ? options.inFlight! : null,
      warmupSeconds: options.warmup,
      windowSeconds: options.seconds,
      sent,
      acked,
      delivered,
      duplicatePushes,
      window,
      sentPerSecond: perSecond(window.sent),
      ackedPerSecond: perSecond(window.acked),
      deliveredPerSecond: perSecond(window.delivered),
      ack: summarize(ackSamples),
      push: summarize(pushSamples),
      errors: { total: errorCount, byKind: errors },
    },
    traceIds: {
      delivered: measured.filter((m) => m.traceId && m.pushAt !== undefined).map((m) => m.traceId!),
      undelivered: measured
        .filter((m) => m.traceId && m.pushAt === undefined)
        .map((m) => m.traceId!),
    },
  };
}
