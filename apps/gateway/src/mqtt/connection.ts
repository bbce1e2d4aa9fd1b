import { randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, SpanContext } from '@opentelemetry/api';
import { parser as createParser, generate } from 'mqtt-packet';
import type {
  IConnectPacket,
  IPubackPacket,
  IPublishPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
  Parser,
} from 'mqtt-packet';
import {
  Attr,
  MetricName,
  SamplingEvent,
  SpanName,
  isClientMsgId,
  textProblem,
} from '@tracechat/contracts';
import type { LogicClient } from '@tracechat/protos';
import {
  SpanKind,
  carrierFromContext,
  contextFromCarrier,
  currentTraceId,
  incrementCounter,
  recordError,
  withSpan,
} from '@tracechat/telemetry';
import type { Attributes, Logger, Span } from '@tracechat/telemetry';
import type { RateLimiter } from '../connection';
import { toFrameError } from '../errors';
import { countPushed } from '../push';
import type { Delivery, PushTarget } from '../push';
import { sendMessage } from '../send';
import { ReasonCode, V3_UNACCEPTABLE_PROTOCOL_VERSION } from './codes';
import {
  PacketType,
  carrierOf,
  encode,
  readFrame,
  sessionOfTopic,
  topicOfSession,
  userProperty,
  utf8,
} from './packets';

/** How spans of acknowledgements and pings are recorded (`MQTT_TRACE_LEVEL`). */
export const MqttTraceLevel = {
  /** Connect, disconnect, subscribe, unsubscribe, publish, push. */
  BASIC: 0,
  /** Also the PUBACK to a publisher and a subscriber's PUBACK of a push (delivery_ack). */
  ACKS: 1,
  /** Also every PINGREQ. */
  PINGS: 2,
} as const;

/** The limits and switches an MQTT connection works with. */
export interface MqttSettings {
  readonly gatewayId: string;
  readonly maxPacketBytes: number;
  readonly receiveMaximum: number;
  readonly topicAliasMaximum: number;
  readonly maxKeepAliveSeconds: number;
  readonly traceLevel: number;
  readonly maxTextBytes: number;
  readonly maxBufferedBytes: number;
  readonly followTraceparent: boolean;
}

/** A byte stream to one client: a TCP socket or a WebSocket's binary messages. */
export interface MqttTransport {
  readonly kind: 'tcp' | 'websocket';
  readonly address: string;
  write(bytes: Buffer): void;
  /** Bytes written but not yet sent. */
  readonly bufferedAmount: number;
  /** Ends the stream once what was written is sent. */
  end(): void;
  destroy(): void;
}

/** What the connection asks of the gateway: identity, slots and registration. */
export interface MqttHooks {
  readonly logic: LogicClient;
  readonly log: Logger;
  /** Verifies the CONNECT's credentials; the user id and the token's expiry, or throws. */
  authenticate(
    username: string | undefined,
    password: string | undefined,
  ): {
    userId: string;
    expiresAt: number;
  };
  /** Takes a connection slot: a release function, or the limit that refused it. */
  acquireSlot(userId: string, address: string): (() => void) | string;
  isDraining(): boolean;
  /** Registers the authenticated connection (hub, presence, token expiry). */
  register(conn: MqttConnection, expiresAt: number): Promise<void>;
  /** Removes it when it closes; called once, only after `register`. */
  unregister(conn: MqttConnection): Promise<void>;
  newRateLimiter(): RateLimiter;
  /** Counts a connection the gateway closed on its own. */
  closedBy(reason: 'send_buffer_full' | 'keep_alive_timeout'): void;
  /** Counts a refused CONNECT by limit. */
  refused(limit: string): void;
}

interface Subscription {
  readonly qos: 0 | 1;
  readonly noLocal: boolean;
}

interface InflightPush {
  readonly messageId: string;
  readonly traceparent: string;
}

/** How long a client has to send CONNECT after opening the connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a connection being closed has to take its DISCONNECT before it is destroyed. */
const CLOSE_GRACE_MS = 1000;
/** Packets waiting for their turn (subscribes behind a slow join); past this the client floods. */
const MAX_QUEUED_PACKETS = 256;
/** Pushes waiting for the client's receive maximum; past this a push is dropped and counted. */
const MAX_QUEUED_PUSHES = 256;
/** Sessions one connection may subscribe to. */
const MAX_SUBSCRIPTIONS = 1024;

const FROM_ERROR_CODE: Record<string, number> = {
  FORBIDDEN: ReasonCode.NOT_AUTHORIZED,
  UNAUTHORIZED: ReasonCode.NOT_AUTHORIZED,
  NOT_FOUND: ReasonCode.NOT_AUTHORIZED,
  RATE_LIMITED: ReasonCode.QUOTA_EXCEEDED,
  TOO_LARGE: ReasonCode.PAYLOAD_FORMAT_INVALID,
  INVALID_FRAME: ReasonCode.PAYLOAD_FORMAT_INVALID,
  CONFLICT: ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
  UNAVAILABLE: ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
  INTERNAL: ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
};

/** A refusal answered with a reason code (and its reason string) rather than a thrown error. */
class Refusal extends Error {
  override readonly name = 'MqttRefusal';
  constructor(
    readonly reasonCode: number,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * One MQTT 5 connection: reads packets off its transport, answers CONNECT, SUBSCRIBE, PUBLISH,
 * PINGREQ and DISCONNECT, and is a push target of the hub for the sessions it subscribed to.
 * Nothing a client sends can throw out of it: protocol abuse ends this connection with a
 * DISCONNECT reason code, never the process.
 */
export class MqttConnection implements PushTarget {
  readonly id = randomUUID();
  readonly connectedAt = Date.now();
  userId = '';
  clientId = '';
  private state: 'new' | 'connecting' | 'open' | 'closed' = 'new';
  private readonly parser: Parser;
  private pending: Buffer = Buffer.alloc(0);
  private lastPacketAt = Date.now();
  private keepAliveMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private releaseSlot: (() => void) | undefined;
  private registered = false;
  private limiter: RateLimiter | undefined;
  private connectContext: SpanContext | undefined;
  private disconnectReason: number | undefined;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly topicAliases = new Map<number, string>();
  /** Packet ids of the client's QoS 1 publishes not yet acknowledged. */
  private readonly inbound = new Set<number>();
  /** The client's receive maximum and maximum packet size. */
  private clientReceiveMaximum = 65_535;
  private clientMaxPacketBytes = Number.MAX_SAFE_INTEGER;
  private readonly outbound = new Map<number, InflightPush>();
  private readonly queuedPushes: { bytes: Buffer; packetId: number; push: InflightPush }[] = [];
  private nextPacketId = 1;
  private barrier: Promise<unknown> = Promise.resolve();
  private readonly sends = new Set<Promise<unknown>>();
  private waiting = 0;
  private finished = false;

  constructor(
    readonly transport: MqttTransport,
    private readonly settings: MqttSettings,
    private readonly hooks: MqttHooks,
  ) {
    this.parser = createParser({ protocolVersion: 5 });
    this.parser.on('packet', (packet: Packet) => this.onPacket(packet));
    this.parser.on('error', (err: unknown) => this.onParseError(err));
    this.timer = setTimeout(() => this.transport.destroy(), CONNECT_TIMEOUT_MS);
    this.timer.unref();
  }

  get open(): boolean {
    return this.state === 'open';
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Bytes from the client; never throws. */
  data(chunk: Buffer): void {
    if (this.state === 'closed') return;
    try {
      this.lastPacketAt = Date.now();
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      while (this.pending.length > 0 && !this.isClosed()) {
        const frame = readFrame(this.pending);
        if (frame.kind === 'incomplete') break;
        if (frame.kind === 'malformed') {
          this.fail(ReasonCode.MALFORMED_PACKET, 'malformed remaining length');
          return;
        }
        if (frame.size > this.settings.maxPacketBytes) {
          this.fail(
            ReasonCode.PACKET_TOO_LARGE,
            `packet of ${frame.size} bytes, over the ${this.settings.maxPacketBytes} byte maximum`,
          );
          return;
        }
        if (this.state === 'new' && frame.type !== PacketType.CONNECT) {
          this.fail(ReasonCode.PROTOCOL_ERROR, 'the first packet must be CONNECT');
          return;
        }
        if (this.pending.length < frame.size) break;
        const bytes = this.pending.subarray(0, frame.size);
        this.pending = this.pending.subarray(frame.size);
        this.parser.parse(bytes);
      }
    } catch (err) {
      this.hooks.log.warn({ err, connection: this.id }, 'mqtt packet handling failed');
      this.fail(ReasonCode.UNSPECIFIED_ERROR, 'internal error');
    }
  }

  /** The transport closed (either side); runs the disconnect span once. */
  closed(): void {
    if (this.finished) return;
    this.finished = true;
    this.state = 'closed';
    clearTimeout(this.timer);
    this.releaseSlot?.();
    this.releaseSlot = undefined;
    this.queuedPushes.length = 0;
    if (!this.registered) return;
    this.registered = false;
    void withSpan(
      SpanName.GATEWAY_MQTT_DISCONNECT,
      {
        kind: SpanKind.SERVER,
        parent: ROOT_CONTEXT,
        links: this.connectContext ? [{ context: this.connectContext }] : [],
        attributes: {
          [Attr.EVENT]: SamplingEvent.CONNECTION,
          [Attr.USER_ID]: this.userId,
          [Attr.CONNECTION_ID]: this.id,
          [Attr.GATEWAY_ID]: this.settings.gatewayId,
          [Attr.NETWORK_PROTOCOL_NAME]: 'mqtt',
          [Attr.NETWORK_TRANSPORT]: this.transport.kind,
          [Attr.MQTT_CLIENT_ID]: this.clientId,
          ...(this.disconnectReason !== undefined
            ? { [Attr.MQTT_REASON_CODE]: this.disconnectReason }
            : {}),
          [Attr.CONNECTION_DURATION_MS]: Date.now() - this.connectedAt,
        },
      },
      () => this.hooks.unregister(this),
    ).catch((err: unknown) => this.hooks.log.warn({ err }, 'presence update failed on disconnect'));
  }

  /** Ends the connection with a DISCONNECT (once open) and closes the transport. */
  disconnect(reasonCode: number, reasonString?: string): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') {
      this.disconnectReason = reasonCode;
      this.write(
        encode({
          cmd: 'disconnect',
          reasonCode,
          ...(reasonString ? { properties: { reasonString } } : {}),
        }),
      );
    }
    this.endTransport();
  }

  shutdown(): void {
    this.disconnect(ReasonCode.SERVER_SHUTTING_DOWN, 'gateway shutting down');
  }

  /** Ends a connection whose token expired. */
  expire(): void {
    this.disconnect(ReasonCode.NOT_AUTHORIZED, 'token expired');
  }

  private endTransport(): void {
    this.state = 'closed';
    clearTimeout(this.timer);
    this.transport.end();
    setTimeout(() => this.transport.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** A protocol failure: CONNACK before CONNECT was answered, DISCONNECT after. */
  private fail(reasonCode: number, reasonString: string): void {
    if (this.state === 'new' || this.state === 'connecting') {
      // a CONNECT that cannot be read gets no CONNACK: its version is not even known
      this.endTransport();
      return;
    }
    this.disconnect(reasonCode, reasonString);
  }

  private onParseError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.state === 'new' && /protocol version|protocol ?id/i.test(message)) {
      this.write(
        encode({
          cmd: 'connack',
          reasonCode: ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
          sessionPresent: false,
        }),
      );
      this.endTransport();
      return;
    }
    this.fail(ReasonCode.MALFORMED_PACKET, 'malformed packet');
  }

  private write(bytes: Buffer): boolean {
    if (this.state === 'closed') return false;
    const waiting = this.transport.bufferedAmount;
    if (waiting > 0 && waiting + bytes.length > this.settings.maxBufferedBytes) {
      this.hooks.closedBy('send_buffer_full');
      this.hooks.log.warn(
        { user: this.userId, connection: this.id, limit: this.settings.maxBufferedBytes },
        'mqtt connection closed: send buffer full (the client does not read)',
      );
      this.state = 'closed';
      this.transport.destroy();
      return false;
    }
    this.transport.write(bytes);
    return true;
  }

  private onPacket(packet: Packet): void {
    if (this.state === 'new') {
      if (packet.cmd !== 'connect') {
        this.fail(ReasonCode.PROTOCOL_ERROR, 'the first packet must be CONNECT');
        return;
      }
      this.state = 'connecting';
      void this.connect(packet).catch((err: unknown) => {
        this.hooks.log.error({ err }, 'mqtt connect failed');
        this.transport.destroy();
      });
      return;
    }
    if (this.state === 'connecting') {
      // packets behind a CONNECT still being checked wait for it
      const ready = this.barrier;
      this.barrier = ready.then(() => (this.state === 'open' ? this.onPacket(packet) : undefined));
      return;
    }
    if (this.state !== 'open') return;
    switch (packet.cmd) {
      case 'connect':
        return this.disconnect(ReasonCode.PROTOCOL_ERROR, 'a second CONNECT');
      case 'pingreq':
        return this.ping();
      case 'disconnect':
        this.disconnectReason = packet.reasonCode ?? 0;
        this.endTransport();
        return;
      case 'puback':
        return this.pushAcknowledged(packet);
      case 'publish':
        return this.publish(packet);
      case 'subscribe':
        // MQTT 5.0, 3.8.3 and 3.10.3: a (UN)SUBSCRIBE without a topic filter is a protocol error
        if (packet.subscriptions.length === 0) {
          return this.disconnect(ReasonCode.PROTOCOL_ERROR, 'SUBSCRIBE without a topic filter');
        }
        return this.queue(() => this.subscribe(packet));
      case 'unsubscribe':
        if (packet.unsubscriptions.length === 0) {
          return this.disconnect(ReasonCode.PROTOCOL_ERROR, 'UNSUBSCRIBE without a topic filter');
        }
        return this.queue(() => this.unsubscribe(packet));
      case 'auth':
        return this.disconnect(
          ReasonCode.PROTOCOL_ERROR,
          'enhanced authentication is not supported',
        );
      default:
        return this.disconnect(ReasonCode.PROTOCOL_ERROR, `unexpected ${packet.cmd}`);
    }
  }

  /** Runs a packet after everything before it (publishes before it included). */
  private queue(run: () => Promise<void>): void {
    if (this.waiting >= MAX_QUEUED_PACKETS) {
      this.disconnect(ReasonCode.MESSAGE_RATE_TOO_HIGH, 'too many packets waiting');
      return;
    }
    this.waiting++;
    const wrapped = () =>
      (this.state === 'open' ? run() : Promise.resolve())
        .catch((err: unknown) => this.hooks.log.error({ err }, 'mqtt packet failed'))
        .finally(() => this.waiting--);
    this.barrier = Promise.all([this.barrier, ...this.sends]).then(wrapped);
    this.sends.clear();
  }

  /** A publish starts once the packets before the run of publishes are done (pipelined sends). */
  private queueSend(run: () => Promise<void>): void {
    if (this.waiting >= MAX_QUEUED_PACKETS) {
      this.disconnect(ReasonCode.MESSAGE_RATE_TOO_HIGH, 'too many packets waiting');
      return;
    }
    this.waiting++;
    const done: Promise<unknown> = this.barrier.then(() =>
      run()
        .catch((err: unknown) => this.hooks.log.error({ err }, 'mqtt publish failed'))
        .finally(() => this.waiting--),
    );
    this.sends.add(done);
    void done.finally(() => this.sends.delete(done));
  }

  private connectParent(packet: IConnectPacket): Context {
    return this.settings.followTraceparent
      ? contextFromCarrier(carrierOf(packet.properties), ROOT_CONTEXT)
      : ROOT_CONTEXT;
  }

  private async connect(packet: IConnectPacket): Promise<void> {
    if (packet.protocolVersion !== 5) {
      // a 3.1/3.1.1 client reads only its own version's CONNACK
      this.write(
        generate(
          { cmd: 'connack', returnCode: V3_UNACCEPTABLE_PROTOCOL_VERSION, sessionPresent: false },
          { protocolVersion: 4 },
        ),
      );
      this.endTransport();
      return;
    }
    this.clientId = (packet.clientId || this.id).slice(0, 128);
    await withSpan(
      SpanName.GATEWAY_MQTT_CONNECT,
      {
        kind: SpanKind.SERVER,
        parent: this.connectParent(packet),
        attributes: {
          [Attr.EVENT]: SamplingEvent.CONNECTION,
          [Attr.GATEWAY_ID]: this.settings.gatewayId,
          [Attr.CONNECTION_ID]: this.id,
          [Attr.NETWORK_PROTOCOL_NAME]: 'mqtt',
          [Attr.NETWORK_TRANSPORT]: this.transport.kind,
          [Attr.MQTT_CLIENT_ID]: this.clientId,
          ...(userProperty(packet.properties, 'debug') === 'true' ? { [Attr.DEBUG]: true } : {}),
        },
      },
      async (span) => {
        const refuse = (reasonCode: number, reasonString: string, code: string) => {
          span.setAttribute(Attr.MQTT_REASON_CODE, reasonCode);
          span.setAttribute(Attr.ERROR_TYPE, code);
          this.write(
            encode({
              cmd: 'connack',
              reasonCode,
              sessionPresent: false,
              properties: { reasonString },
            }),
          );
          this.endTransport();
        };
        if (this.hooks.isDraining()) {
          return refuse(ReasonCode.SERVER_UNAVAILABLE, 'gateway shutting down', 'draining');
        }
        if (packet.properties?.authenticationMethod) {
          return refuse(
            ReasonCode.BAD_AUTHENTICATION_METHOD,
            'enhanced authentication is not supported; send the token as the password',
            'bad_authentication_method',
          );
        }
        let identity: { userId: string; expiresAt: number };
        try {
          identity = await withSpan(SpanName.GATEWAY_AUTH_AUTHENTICATE, {}, () =>
            this.hooks.authenticate(
              packet.username || undefined,
              packet.password === undefined ? undefined : packet.password.toString('utf8'),
            ),
          );
        } catch (err) {
          recordError(span, err);
          return refuse(ReasonCode.NOT_AUTHORIZED, 'not authorized', 'unauthorized');
        }
        this.userId = identity.userId;
        span.setAttribute(Attr.USER_ID, identity.userId);
        const slot = this.hooks.acquireSlot(identity.userId, this.transport.address);
        if (typeof slot === 'string') {
          this.hooks.refused(slot);
          return refuse(ReasonCode.QUOTA_EXCEEDED, 'too many connections', slot);
        }
        // the transport may have closed while the token was checked
        if (this.finished) return slot();
        this.releaseSlot = slot;
        this.limiter = this.hooks.newRateLimiter();
        const props = packet.properties ?? {};
        if (props.receiveMaximum) this.clientReceiveMaximum = props.receiveMaximum;
        if (props.maximumPacketSize) this.clientMaxPacketBytes = props.maximumPacketSize;
        const max = this.settings.maxKeepAliveSeconds;
        const asked = packet.keepalive ?? 0;
        const keepAlive = asked === 0 || asked > max ? max : asked;
        this.keepAliveMs = keepAlive * 1000;
        this.connectContext = span.spanContext();
        this.state = 'open';
        clearTimeout(this.timer);
        this.armKeepAlive();
        this.write(
          encode({
            cmd: 'connack',
            reasonCode: ReasonCode.SUCCESS,
            sessionPresent: false,
            properties: {
              ...(props.sessionExpiryInterval ? { sessionExpiryInterval: 0 } : {}),
              receiveMaximum: this.settings.receiveMaximum,
              maximumQoS: 1,
              retainAvailable: false,
              maximumPacketSize: this.settings.maxPacketBytes,
              topicAliasMaximum: this.settings.topicAliasMaximum,
              wildcardSubscriptionAvailable: false,
              subscriptionIdentifiersAvailable: false,
              sharedSubscriptionAvailable: false,
              ...(keepAlive !== asked ? { serverKeepAlive: keepAlive } : {}),
              ...(packet.clientId ? {} : { assignedClientIdentifier: this.clientId }),
            },
          }),
        );
        span.setAttribute(Attr.MQTT_REASON_CODE, ReasonCode.SUCCESS);
        this.registered = true;
        await this.hooks.register(this, identity.expiresAt);
      },
    );
  }

  /** Closes the connection after 1.5 × keep-alive without a packet. */
  private armKeepAlive(): void {
    const limit = this.keepAliveMs * 1.5;
    const check = () => {
      if (this.state !== 'open') return;
      const idle = Date.now() - this.lastPacketAt;
      if (idle >= limit) {
        this.hooks.closedBy('keep_alive_timeout');
        this.disconnect(ReasonCode.KEEP_ALIVE_TIMEOUT, 'keep alive timeout');
        return;
      }
      this.timer = setTimeout(check, limit - idle);
      this.timer.unref();
    };
    this.timer = setTimeout(check, limit);
    this.timer.unref();
  }

  private ping(): void {
    if (this.settings.traceLevel >= MqttTraceLevel.PINGS) {
      void withSpan(
        SpanName.GATEWAY_MQTT_PING,
        {
          kind: SpanKind.SERVER,
          parent: ROOT_CONTEXT,
          attributes: {
            [Attr.EVENT]: SamplingEvent.HEARTBEAT,
            [Attr.USER_ID]: this.userId,
            [Attr.CONNECTION_ID]: this.id,
            [Attr.GATEWAY_ID]: this.settings.gatewayId,
          },
        },
        () => this.write(encode({ cmd: 'pingresp' })),
      );
      return;
    }
    this.write(encode({ cmd: 'pingresp' }));
  }

  /** The root span attributes every MQTT packet span shares. */
  private packetAttributes(event: SamplingEvent, debug: boolean): Attributes {
    return {
      [Attr.EVENT]: event,
      [Attr.USER_ID]: this.userId,
      [Attr.CONNECTION_ID]: this.id,
      [Attr.GATEWAY_ID]: this.settings.gatewayId,
      [Attr.NETWORK_PROTOCOL_NAME]: 'mqtt',
      ...(debug ? { [Attr.DEBUG]: true } : {}),
    };
  }

  private parentOf(properties: IPublishPacket['properties']): Context {
    return this.settings.followTraceparent
      ? contextFromCarrier(carrierOf(properties), ROOT_CONTEXT)
      : ROOT_CONTEXT;
  }

  private async subscribe(packet: ISubscribePacket): Promise<void> {
    const sessions = packet.subscriptions.map((s) => sessionOfTopic(s.topic));
    const first = sessions.find((s) => s !== undefined);
    const wantsPublic = userProperty(packet.properties, 'public') === 'true';
    await withSpan(
      SpanName.GATEWAY_MQTT_SUBSCRIBE,
      {
        kind: SpanKind.SERVER,
        parent: this.parentOf(packet.properties),
        attributes: {
          ...this.packetAttributes(
            SamplingEvent.SESSION,
            userProperty(packet.properties, 'debug') === 'true',
          ),
          ...(first ? { [Attr.SESSION_ID]: first } : {}),
          [Attr.MQTT_TOPIC_COUNT]: packet.subscriptions.length,
          [Attr.MESSAGING_MQTT_PACKET_ID]: packet.messageId ?? 0,
        },
      },
      async (span) => {
        const limited = !this.limiter!.take();
        const granted: number[] = [];
        for (const [i, sub] of packet.subscriptions.entries()) {
          granted.push(await this.subscribeOne(sub, sessions[i], wantsPublic, limited, span));
        }
        this.write(encode({ cmd: 'suback', messageId: packet.messageId, granted }));
      },
    );
  }

  private async subscribeOne(
    sub: ISubscribePacket['subscriptions'][number],
    session: string | undefined,
    wantsPublic: boolean,
    limited: boolean,
    span: Span,
  ): Promise<number> {
    const topic = sub.topic;
    const refuse = (code: number, type: string) => {
      span.setAttribute(Attr.ERROR_TYPE, type);
      span.setAttribute(Attr.MQTT_REASON_CODE, code);
      return code;
    };
    if (topic.startsWith('$share/')) {
      return refuse(ReasonCode.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED, 'shared_subscription');
    }
    if (topic.includes('+') || topic.includes('#')) {
      return refuse(ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED, 'wildcard_subscription');
    }
    if (!session) return refuse(ReasonCode.TOPIC_FILTER_INVALID, 'topic_filter_invalid');
    if (limited) return refuse(ReasonCode.QUOTA_EXCEEDED, 'RATE_LIMITED');
    if (!this.subscriptions.has(session) && this.subscriptions.size >= MAX_SUBSCRIPTIONS) {
      return refuse(ReasonCode.QUOTA_EXCEEDED, 'too_many_subscriptions');
    }
    try {
      await withSpan(
        SpanName.GATEWAY_SESSION_JOIN,
        {
          attributes: {
            [Attr.SESSION_ID]: session,
            [Attr.USER_ID]: this.userId,
            [Attr.SESSION_PUBLIC]: wantsPublic,
          },
        },
        () =>
          this.hooks.logic.joinSession({
            sessionId: session,
            userId: this.userId,
            public: wantsPublic,
          }),
      );
    } catch (err) {
      const failure = toFrameError(err, null);
      recordError(span, failure);
      if (failure.code === 'INTERNAL') this.hooks.log.error({ err }, 'mqtt subscribe failed');
      const code =
        failure.code === 'INVALID_FRAME'
          ? ReasonCode.TOPIC_FILTER_INVALID
          : (FROM_ERROR_CODE[failure.code] ?? ReasonCode.UNSPECIFIED_ERROR);
      span.setAttribute(Attr.MQTT_REASON_CODE, code);
      return code;
    }
    const qos = Math.min(sub.qos, 1) as 0 | 1;
    this.subscriptions.set(session, { qos, noLocal: sub.nl === true });
    return qos;
  }

  private async unsubscribe(packet: IUnsubscribePacket): Promise<void> {
    const sessions = packet.unsubscriptions.map((t) => sessionOfTopic(t));
    const first = sessions.find((s) => s !== undefined);
    await withSpan(
      SpanName.GATEWAY_MQTT_UNSUBSCRIBE,
      {
        kind: SpanKind.SERVER,
        parent: this.parentOf(packet.properties),
        attributes: {
          ...this.packetAttributes(
            SamplingEvent.SESSION,
            userProperty(packet.properties, 'debug') === 'true',
          ),
          ...(first ? { [Attr.SESSION_ID]: first } : {}),
          [Attr.MQTT_TOPIC_COUNT]: packet.unsubscriptions.length,
          [Attr.MESSAGING_MQTT_PACKET_ID]: packet.messageId ?? 0,
        },
      },
      () => {
        const granted = sessions.map((session) =>
          session !== undefined && this.subscriptions.delete(session)
            ? ReasonCode.SUCCESS
            : ReasonCode.NO_SUBSCRIPTION_EXISTED,
        );
        this.write(encode({ cmd: 'unsuback', messageId: packet.messageId, granted }));
      },
    );
  }

  /**
   * A PUBLISH from the client: protocol rules are checked at once (a violation ends the
   * connection), then the send joins the connection's lane and is acknowledged once logic
   * answered.
   */
  private publish(packet: IPublishPacket): void {
    if (packet.qos === 2) {
      return this.disconnect(ReasonCode.QOS_NOT_SUPPORTED, 'QoS 2 is not supported; use 0 or 1');
    }
    if (packet.retain) {
      return this.disconnect(
        ReasonCode.RETAIN_NOT_SUPPORTED,
        'retained messages are not supported',
      );
    }
    let topic = packet.topic;
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined) {
      if (alias === 0 || alias > this.settings.topicAliasMaximum) {
        return this.disconnect(ReasonCode.TOPIC_ALIAS_INVALID, 'topic alias out of range');
      }
      if (topic) this.topicAliases.set(alias, topic);
      else {
        const known = this.topicAliases.get(alias);
        if (known === undefined) {
          return this.disconnect(ReasonCode.PROTOCOL_ERROR, 'unknown topic alias');
        }
        topic = known;
      }
    }
    if (packet.qos === 1) {
      const packetId = packet.messageId ?? 0;
      // a retry (or a reuse) of a packet id still being handled: its one PUBACK is on its way
      if (this.inbound.has(packetId)) return;
      if (this.inbound.size >= this.settings.receiveMaximum) {
        return this.disconnect(ReasonCode.RECEIVE_MAXIMUM_EXCEEDED, 'receive maximum exceeded');
      }
      this.inbound.add(packetId);
    }
    this.queueSend(() => this.send(packet, topic));
  }

  private async send(packet: IPublishPacket, topic: string): Promise<void> {
    const session = sessionOfTopic(topic);
    const payload = packet.payload;
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const packetId = packet.messageId ?? 0;
    await withSpan(
      SpanName.GATEWAY_MQTT_PUBLISH,
      {
        kind: SpanKind.SERVER,
        parent: this.parentOf(packet.properties),
        attributes: {
          ...this.packetAttributes(
            SamplingEvent.MESSAGING,
            userProperty(packet.properties, 'debug') === 'true',
          ),
          ...(session ? { [Attr.SESSION_ID]: session } : {}),
          [Attr.MESSAGING_SYSTEM]: 'mqtt',
          [Attr.MESSAGING_DESTINATION_NAME]: topic.slice(0, 140),
          [Attr.MESSAGING_MESSAGE_BODY_SIZE]: size,
          [Attr.MESSAGING_MQTT_QOS]: packet.qos,
          ...(packet.qos > 0 ? { [Attr.MESSAGING_MQTT_PACKET_ID]: packetId } : {}),
        },
      },
      async (span) => {
        let reasonCode: number = ReasonCode.SUCCESS;
        let reasonString: string | undefined;
        const userProperties: Record<string, string> = {};
        try {
          const request = this.sendRequest(packet, session, payload);
          const res = await sendMessage(this.hooks.logic, this.settings.gatewayId, request, span);
          Object.assign(userProperties, {
            message_id: res.messageId,
            seq: String(res.seq),
            trace_id: currentTraceId() ?? '',
            ...(res.duplicate ? { duplicate: 'true' } : {}),
          });
        } catch (err) {
          const refusal =
            err instanceof Refusal
              ? err
              : (() => {
                  const failure = toFrameError(err, null);
                  if (failure.code === 'INTERNAL') {
                    this.hooks.log.error({ err }, 'mqtt publish failed');
                  }
                  return new Refusal(
                    FROM_ERROR_CODE[failure.code] ?? ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
                    failure.message,
                    failure.code,
                  );
                })();
          recordError(span, refusal);
          reasonCode = refusal.reasonCode;
          reasonString = refusal.message;
          userProperties.trace_id = currentTraceId() ?? '';
        }
        span.setAttribute(Attr.MQTT_REASON_CODE, reasonCode);
        if (packet.qos === 0) return;
        if (this.settings.traceLevel >= MqttTraceLevel.ACKS) {
          await withSpan(
            SpanName.GATEWAY_MQTT_PUBACK,
            {
              attributes: {
                [Attr.MESSAGING_MQTT_PACKET_ID]: packetId,
                [Attr.MQTT_REASON_CODE]: reasonCode,
                [Attr.CONNECTION_ID]: this.id,
              },
            },
            (ack) => {
              ack.setAttribute(
                Attr.FRAME_WRITTEN,
                this.puback(packetId, reasonCode, reasonString, userProperties),
              );
            },
          );
        } else {
          this.puback(packetId, reasonCode, reasonString, userProperties);
        }
      },
    );
  }

  /** Validates a PUBLISH as a `send`; a Refusal with its PUBACK reason code otherwise. */
  private sendRequest(
    packet: IPublishPacket,
    session: string | undefined,
    payload: Buffer | string,
  ) {
    if (!session) {
      throw new Refusal(
        ReasonCode.TOPIC_NAME_INVALID,
        'topic must be chat/<session>',
        'topic_name_invalid',
      );
    }
    if (!this.limiter!.take()) {
      throw new Refusal(ReasonCode.QUOTA_EXCEEDED, 'too many messages, slow down', 'RATE_LIMITED');
    }
    const text = utf8(payload);
    if (text === undefined) {
      throw new Refusal(
        ReasonCode.PAYLOAD_FORMAT_INVALID,
        'payload must be UTF-8',
        'INVALID_FRAME',
      );
    }
    const problem = textProblem(text, this.settings.maxTextBytes);
    if (problem) {
      throw new Refusal(
        ReasonCode.PAYLOAD_FORMAT_INVALID,
        problem.message.replace('"text"', 'payload'),
        problem.tooLarge ? 'TOO_LARGE' : 'INVALID_FRAME',
      );
    }
    const property = userProperty(packet.properties, 'client_msg_id');
    let clientMsgId: string | undefined;
    if (property !== undefined) {
      if (!isClientMsgId(property)) {
        throw new Refusal(
          ReasonCode.PAYLOAD_FORMAT_INVALID,
          'client_msg_id must be 1-64 characters of A-Za-z0-9._:-',
          'INVALID_FRAME',
        );
      }
      clientMsgId = property;
    } else if (packet.properties?.correlationData) {
      const correlation = utf8(packet.properties.correlationData);
      if (isClientMsgId(correlation)) clientMsgId = correlation;
    }
    return { session, text, clientMsgId, userId: this.userId, connectionId: this.id };
  }

  private puback(
    packetId: number,
    reasonCode: number,
    reasonString?: string,
    userProperties?: Record<string, string>,
  ): boolean {
    this.inbound.delete(packetId);
    const properties = {
      ...(reasonString ? { reasonString } : {}),
      ...(userProperties && Object.keys(userProperties).length > 0 ? { userProperties } : {}),
    };
    return this.write(
      encode({
        cmd: 'puback',
        messageId: packetId,
        reasonCode,
        ...(Object.keys(properties).length > 0 ? { properties } : {}),
      }),
    );
  }

  /**
   * A push of a session this connection subscribed to: a `gateway.mqtt.push` span (PRODUCER)
   * writing a PUBLISH at the subscription's QoS, its user properties carrying the span's context.
   * The sender's own connection gets it unless it subscribed with No Local. A QoS 1 push past the
   * client's receive maximum waits (up to MAX_QUEUED_PUSHES, then it is dropped); a push bigger
   * than the client's maximum packet size is dropped. Both are counted and logged.
   */
  push(delivery: Delivery): Promise<boolean> {
    const { message, view, gatewayId } = delivery;
    const sub = this.subscriptions.get(message.sessionId);
    if (!sub || this.state !== 'open') return Promise.resolve(false);
    if (sub.noLocal && this.id === delivery.excludeConnectionId) return Promise.resolve(false);
    return withSpan(
      SpanName.GATEWAY_MQTT_PUSH,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          [Attr.USER_ID]: this.userId,
          [Attr.CONNECTION_ID]: this.id,
          [Attr.MESSAGE_ID]: message.messageId,
          [Attr.MESSAGING_MQTT_QOS]: sub.qos,
          [Attr.NETWORK_PROTOCOL_NAME]: 'mqtt',
        },
      },
      (span) => {
        const carrier = carrierFromContext();
        const traceparent = carrier.traceparent ?? '';
        const packetId = sub.qos === 1 ? this.takePacketId() : undefined;
        const bytes = encode({
          cmd: 'publish',
          topic: topicOfSession(message.sessionId),
          payload: Buffer.from(view.text, 'utf8'),
          qos: sub.qos,
          dup: false,
          retain: false,
          ...(packetId !== undefined ? { messageId: packetId } : {}),
          properties: {
            payloadFormatIndicator: true,
            contentType: 'text/plain; charset=utf-8',
            userProperties: {
              ...(traceparent ? { traceparent } : {}),
              ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
              message_id: view.messageId,
              seq: String(view.seq),
              from: view.from,
              sent_at: view.sentAt,
              trace_id: span.spanContext().traceId,
            },
          },
        });
        if (packetId !== undefined) span.setAttribute(Attr.MESSAGING_MQTT_PACKET_ID, packetId);
        if (bytes.length > this.clientMaxPacketBytes) {
          return this.dropped(span, 'packet_too_large', message.messageId);
        }
        if (packetId === undefined) {
          const written = this.write(bytes);
          span.setAttribute(Attr.FRAME_WRITTEN, written);
          if (written) countPushed(gatewayId, message.sentAtMs);
          return written;
        }
        const inflight = { messageId: message.messageId, traceparent };
        if (this.outbound.size >= this.clientReceiveMaximum) {
          if (this.queuedPushes.length >= MAX_QUEUED_PUSHES) {
            return this.dropped(span, 'receive_maximum', message.messageId);
          }
          this.queuedPushes.push({ bytes, packetId, push: inflight });
          countPushed(gatewayId, message.sentAtMs);
          return true;
        }
        const written = this.write(bytes);
        span.setAttribute(Attr.FRAME_WRITTEN, written);
        if (!written) return false;
        this.outbound.set(packetId, inflight);
        countPushed(gatewayId, message.sentAtMs);
        return true;
      },
    );
  }

  private dropped(span: Span, reason: string, messageId: string): boolean {
    span.setAttribute(Attr.FRAME_WRITTEN, false);
    span.setAttribute(Attr.ERROR_TYPE, reason);
    incrementCounter(
      MetricName.GATEWAY_MQTT_PUSHES_DROPPED,
      { [Attr.GATEWAY_ID]: this.settings.gatewayId, reason },
      1,
      'Pushes to MQTT clients dropped: over the client maximum packet size or receive maximum',
    );
    this.hooks.log.warn(
      { user: this.userId, connection: this.id, message: messageId, reason },
      'mqtt push dropped',
    );
    return false;
  }

  /** A packet id not in use by an unacknowledged push. */
  private takePacketId(): number {
    for (let i = 0; i < 65_535; i++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65_535 ? 1 : id + 1;
      if (!this.outbound.has(id) && !this.queuedPushes.some((q) => q.packetId === id)) return id;
    }
    return this.nextPacketId;
  }

  /** The client's PUBACK of a QoS 1 push: closes the delivery in its trace. */
  private pushAcknowledged(packet: IPubackPacket): void {
    const packetId = packet.messageId ?? 0;
    const inflight = this.outbound.get(packetId);
    if (!inflight) return;
    this.outbound.delete(packetId);
    const next = this.queuedPushes.shift();
    if (next && this.write(next.bytes)) this.outbound.set(next.packetId, next.push);
    incrementCounter(MetricName.MESSAGES_DELIVERED, { [Attr.GATEWAY_ID]: this.settings.gatewayId });
    if (this.settings.traceLevel < MqttTraceLevel.ACKS) return;
    const parent = contextFromCarrier({ traceparent: inflight.traceparent }, ROOT_CONTEXT);
    if (!trace.getSpanContext(parent)) return;
    void withSpan(
      SpanName.GATEWAY_MQTT_DELIVERY_ACK,
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: {
          [Attr.MESSAGE_ID]: inflight.messageId,
          [Attr.USER_ID]: this.userId,
          [Attr.CONNECTION_ID]: this.id,
          [Attr.GATEWAY_ID]: this.settings.gatewayId,
          [Attr.MESSAGING_MQTT_PACKET_ID]: packetId,
          [Attr.MQTT_REASON_CODE]: packet.reasonCode ?? 0,
        },
      },
      () => undefined,
    );
  }
}
