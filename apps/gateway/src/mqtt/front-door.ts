import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { TokenError, verifyToken } from '@tracechat/contracts';
import type { Identity } from '@tracechat/contracts';
import type { Presence } from '@tracechat/presence';
import type { LogicClient } from '@tracechat/protos';
import type { Logger } from '@tracechat/telemetry';
import { tokenRules } from '../auth';
import type { GatewayConfig } from '../config';
import { countClosed, countRefused } from '../connect';
import { RateLimiter } from '../connection';
import type { Hub } from '../connection';
import { ExpiryWheel } from '../expiry';
import { remoteAddress } from '../limits';
import type { ConnectionLimit, ConnectionSlots } from '../limits';
import { ReasonCode } from './codes';
import { MqttConnection } from './connection';
import type { MqttHooks, MqttSettings, MqttTransport } from './connection';

export interface MqttFrontDoorDeps {
  readonly config: GatewayConfig;
  readonly logic: LogicClient;
  readonly hub: Hub;
  readonly presence: Presence;
  readonly slots: ConnectionSlots;
  readonly log: Logger;
  readonly isDraining: () => boolean;
  /** Called whenever a connection is added or removed. */
  readonly changed: () => void;
}

/**
 * The credentials of a CONNECT: the password is the JWT of the WebSocket protocol; a username,
 * when given, must be the token's user. TokenError otherwise.
 */
export function authenticateMqtt(
  username: string | undefined,
  password: string | undefined,
  config: GatewayConfig,
): Identity {
  if (!password) throw new TokenError('missing token');
  const identity = verifyToken(password, config.authSecret, tokenRules(config));
  if (username !== undefined && username !== identity.userId) {
    throw new TokenError('username is not the token subject');
  }
  return identity;
}

function tcpTransport(socket: Socket): MqttTransport {
  return {
    kind: 'tcp',
    address: remoteAddress(socket.remoteAddress),
    write: (bytes) => socket.write(bytes),
    get bufferedAmount() {
      return socket.writableLength;
    },
    end: () => socket.end(),
    destroy: () => socket.destroy(),
  };
}

function webSocketTransport(ws: WebSocket, address: string): MqttTransport {
  return {
    kind: 'websocket',
    address,
    write: (bytes) => ws.send(bytes, { binary: true }),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    end: () => ws.close(1000),
    destroy: () => ws.terminate(),
  };
}

/**
 * The gateway's MQTT 5 front door: a TCP listener (`MQTT_PORT`) and MQTT over WebSocket at
 * `/mqtt` on the HTTP port. Its connections join the gateway's hub, presence and connection
 * slots like WebSocket ones (docs/protocol.md, "MQTT 5").
 */
export class MqttFrontDoor {
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<MqttConnection>();
  private readonly expiry: ExpiryWheel<MqttConnection>;
  private readonly settings: MqttSettings;
  private readonly hooks: MqttHooks;

  constructor(private readonly deps: MqttFrontDoorDeps) {
    const { config, hub, presence, log } = deps;
    this.settings = {
      gatewayId: config.gatewayId,
      maxPacketBytes: config.mqttMaxPacketBytes,
      receiveMaximum: config.mqttReceiveMaximum,
      topicAliasMaximum: config.mqttTopicAliasMaximum,
      maxKeepAliveSeconds: config.mqttMaxKeepAliveSeconds,
      traceLevel: config.mqttTraceLevel,
      maxTextBytes: config.maxTextBytes,
      maxBufferedBytes: config.maxBufferedBytes,
      followTraceparent: config.followTraceparent,
    };
    this.expiry = new ExpiryWheel<MqttConnection>((conn) => {
      countClosed(config.gatewayId, 'token_expired');
      log.info({ user: conn.userId, connection: conn.id }, 'mqtt connection closed: token expired');
      conn.expire();
    });
    this.hooks = {
      logic: deps.logic,
      log,
      authenticate: (username, password) => authenticateMqtt(username, password, config),
      acquireSlot: (userId, address) => deps.slots.acquire(userId, address),
      isDraining: deps.isDraining,
      register: async (conn, expiresAt) => {
        this.expiry.add(conn, expiresAt);
        const first = hub.add(conn);
        deps.changed();
        if (first) await presence.online(config.gatewayId, [conn.userId]);
      },
      unregister: async (conn) => {
        this.expiry.remove(conn);
        const last = hub.remove(conn);
        deps.changed();
        if (last && !deps.isDraining()) await presence.offline(config.gatewayId, [conn.userId]);
      },
      newRateLimiter: () => new RateLimiter(config.rateLimitPerSecond, config.rateLimitBurst),
      closedBy: (reason) => countClosed(config.gatewayId, reason),
      refused: (limit) => {
        countRefused(config.gatewayId, limit as ConnectionLimit);
        log.info({ limit }, 'mqtt connect refused: connection limit');
      },
    };
    this.server = createServer((socket) => this.acceptTcp(socket));
    this.server.on('error', (err) => log.warn({ err }, 'mqtt listener error'));
    this.wss = new WebSocketServer({
      noServer: true,
      // a WebSocket message may hold several packets; each is held to the packet limit
      maxPayload: config.mqttMaxPacketBytes * 2,
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
    });
  }

  /** Binds the TCP listener; null when `MQTT_PORT` is off. */
  async listen(): Promise<number | null> {
    const { mqttPort, mqttHost } = this.deps.config;
    if (mqttPort === undefined) return null;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(mqttPort, mqttHost, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : mqttPort;
  }

  private track(transport: MqttTransport): MqttConnection {
    const conn = new MqttConnection(transport, this.settings, this.hooks);
    this.connections.add(conn);
    return conn;
  }

  private acceptTcp(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', (err) => this.deps.log.debug({ err }, 'mqtt socket error'));
    if (this.deps.isDraining()) {
      socket.destroy();
      return;
    }
    const conn = this.track(tcpTransport(socket));
    socket.on('data', (chunk: Buffer) => conn.data(chunk));
    socket.on('close', () => {
      this.connections.delete(conn);
      conn.closed();
    });
  }

  /** Takes over an upgrade to `/mqtt` (its Origin and the draining state already checked). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const address = remoteAddress(req.socket.remoteAddress);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = this.track(webSocketTransport(ws, address));
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          conn.disconnect(ReasonCode.MALFORMED_PACKET, 'MQTT over WebSocket takes binary messages');
          return;
        }
        conn.data(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer));
      });
      ws.on('error', (err) => this.deps.log.debug({ err }, 'mqtt websocket error'));
      ws.on('close', () => {
        this.connections.delete(conn);
        conn.closed();
      });
    });
  }

  /** Stops accepting, ends every connection (DISCONNECT 0x8B) and closes the listener. */
  async close(): Promise<void> {
    this.expiry.stop();
    const closed = this.server.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    for (const conn of this.connections) conn.shutdown();
    const deadline = setTimeout(() => {
      for (const conn of this.connections) conn.transport.destroy();
    }, 1000);
    await closed;
    clearTimeout(deadline);
    for (const ws of this.wss.clients) ws.terminate();
  }
}
