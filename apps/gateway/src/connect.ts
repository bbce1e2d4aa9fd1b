import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { SpanContext } from '@opentelemetry/api';
import type { WebSocket, WebSocketServer } from 'ws';
import {
  Attr,
  CloseCode,
  MetricName,
  SamplingEvent,
  SpanName,
  serverFrames,
} from '@tracechat/contracts';
import type { Presence } from '@tracechat/presence';
import {
  SpanKind,
  contextFromCarrier,
  incrementCounter,
  recordError,
  withSpan,
} from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import { authenticate, tokenRules } from './auth';
import type { GatewayConfig } from './config';
import { Connection, RateLimiter } from './connection';
import type { Hub } from './connection';
import type { ExpiryWheel } from './expiry';
import type { FrameHandler } from './handler';
import { ConnectionLimit, remoteAddress } from './limits';
import type { ConnectionSlots } from './limits';
import { originAllowed } from './origin';

export interface ConnectDeps {
  readonly config: GatewayConfig;
  readonly followTraceparent: boolean;
  readonly wss: WebSocketServer;
  readonly hub: Hub;
  readonly handler: FrameHandler;
  readonly presence: Presence;
  readonly log: Logger;
  /** Sockets that answered the last liveness ping. */
  readonly alive: WeakSet<WebSocket>;
  readonly isDraining: () => boolean;
  /** Called whenever a connection is added or removed. */
  readonly changed: () => void;
  /** Connection slots by total, user and address. */
  readonly slots: ConnectionSlots;
  /** Ends connections when their token expires. */
  readonly expiry: ExpiryWheel<Connection>;
  /** Takes over upgrades to `/mqtt` (MQTT over WebSocket); `/mqtt` is 404 without it. */
  readonly mqtt?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** Seconds a client refused by a connection limit is asked to wait (`Retry-After`). */
const RETRY_AFTER_SECONDS = 10;

function refuse(
  socket: Duplex,
  status: number,
  reason: string,
  headers: Record<string, string> = {},
): void {
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${extra}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
  );
}

const REFUSED_REASONS = [...Object.values(ConnectionLimit), 'origin'] as const;
const CLOSED_REASONS = ['send_buffer_full', 'token_expired', 'keep_alive_timeout'] as const;

/** Counts a refused upgrade (or MQTT CONNECT) by reason. */
export function countRefused(
  gatewayId: string,
  reason: (typeof REFUSED_REASONS)[number],
  value = 1,
): void {
  incrementCounter(
    MetricName.GATEWAY_CONNECTIONS_REFUSED,
    { [Attr.GATEWAY_ID]: gatewayId, reason },
    value,
    'WebSocket upgrades and MQTT connects refused by a connection limit or the Origin rule',
  );
}

/** Counts a connection the gateway closed by reason. */
export function countClosed(
  gatewayId: string,
  reason: (typeof CLOSED_REASONS)[number],
  value = 1,
): void {
  incrementCounter(
    MetricName.GATEWAY_CONNECTIONS_CLOSED,
    { [Attr.GATEWAY_ID]: gatewayId, reason },
    value,
    'Connections the gateway closed: a full send buffer, an expired token, an MQTT keep-alive timeout',
  );
}

/** Creates every series of the refused and closed counters at 0, so rates start from zero. */
export function registerConnectionCounters(gatewayId: string): void {
  for (const reason of REFUSED_REASONS) countRefused(gatewayId, reason, 0);
  for (const reason of CLOSED_REASONS) countClosed(gatewayId, reason, 0);
}

/** An upgrade socket's error handler; a function of its own so it keeps nothing of the request. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * The HTTP upgrade handler of `/ws` (and `/mqtt`, handed to the MQTT front door after the same
 * draining and Origin checks): checks the Origin (403), authenticates the token (401)
 * inside a `gateway.ws.connect` span (a child of the client's traceparent when following is on),
 * takes a connection slot (429 past a limit), then wires the connection's frames, its
 * disconnect span, its presence and its token's expiry.
 */
export function createUpgradeHandler(deps: ConnectDeps) {
  const { config, hub, presence, log } = deps;
  const rules = tokenRules(config);

  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroyOnError);
    const url = new URL(req.url ?? '/', 'http://gateway');
    const mqtt = url.pathname === '/mqtt' ? deps.mqtt : undefined;
    if (url.pathname !== '/ws' && !mqtt) return refuse(socket, 404, 'Not Found');
    if (deps.isDraining()) return refuse(socket, 503, 'Service Unavailable');
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const address = remoteAddress(req.socket.remoteAddress);
    if (!originAllowed(header('origin'), header('host'), config.allowedOrigins)) {
      countRefused(config.gatewayId, 'origin');
      // the Origin is the browser's page, not a secret; cut to keep the line short
      log.info({ origin: header('origin')?.slice(0, 256), address }, 'upgrade refused: origin');
      return refuse(socket, 403, 'Forbidden');
    }
    // an MQTT client authenticates in its CONNECT packet, after the upgrade
    if (mqtt) return mqtt(req, socket, head);
    const parent = deps.followTraceparent
      ? contextFromCarrier(
          {
            traceparent: header('traceparent') ?? url.searchParams.get('traceparent') ?? undefined,
            tracestate: header('tracestate') ?? url.searchParams.get('tracestate') ?? undefined,
          },
          ROOT_CONTEXT,
        )
      : ROOT_CONTEXT;
    void withSpan(
      SpanName.GATEWAY_WS_CONNECT,
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: {
          [Attr.EVENT]: SamplingEvent.CONNECTION,
          [Attr.GATEWAY_ID]: config.gatewayId,
        },
      },
      async (span) => {
        let userId: string;
        let expiresAt: number;
        try {
          ({ userId, expiresAt } = await withSpan(SpanName.GATEWAY_AUTH_AUTHENTICATE, {}, () =>
            authenticate(header('authorization'), url, config.authSecret, rules),
          ));
        } catch (err) {
          recordError(span, err);
          return refuse(socket, 401, 'Unauthorized');
        }
        span.setAttribute(Attr.USER_ID, userId);
        const slot = deps.slots.acquire(userId, address);
        if (typeof slot === 'string') {
          countRefused(config.gatewayId, slot);
          log.info({ user: userId, address, limit: slot }, 'upgrade refused: connection limit');
          span.setAttribute(Attr.ERROR_TYPE, slot);
          return refuse(socket, 429, 'Too Many Requests', {
            'Retry-After': String(RETRY_AFTER_SECONDS),
          });
        }
        // the slot is the socket's until it closes, upgraded or not (a failed handshake never
        // calls back)
        if (socket.destroyed) return slot();
        socket.once('close', slot);
        const ws = await new Promise<WebSocket>((resolve) =>
          deps.wss.handleUpgrade(req, socket, head, resolve),
        );
        // wired outside this closure so an open connection does not keep the upgrade request
        const conn = wire(deps, ws, userId, expiresAt, span.spanContext());
        span.setAttribute(Attr.CONNECTION_ID, conn.id);
        if (hub.add(conn)) await presence.online(config.gatewayId, [userId]);
        deps.changed();
      },
    ).catch((err: unknown) => {
      log.error({ err }, 'connect failed');
      socket.destroy();
    });
  };
}

/**
 * Wires an accepted WebSocket: its frames, liveness, and the `gateway.ws.disconnect` span
 * (linked to the connect span) that withdraws presence when it closes.
 */
function wire(
  deps: ConnectDeps,
  ws: WebSocket,
  userId: string,
  expiresAt: number,
  connectContext: SpanContext,
) {
  const { config, hub, presence, log } = deps;
  const conn = new Connection(
    userId,
    ws,
    new RateLimiter(config.rateLimitPerSecond, config.rateLimitBurst),
    {
      maxBufferedBytes: config.maxBufferedBytes,
      rememberPushes: deps.followTraceparent,
      onSendBufferFull: sendBufferFull,
    },
  );
  deps.expiry.add(conn, expiresAt);
  deps.alive.add(ws);
  ws.on('pong', () => deps.alive.add(ws));
  // ws answers every ping by itself: a client that pings and never reads fills the buffer too
  ws.on('ping', () => conn.checkSendBuffer());
  ws.on('message', (data, isBinary) => {
    if (isBinary) return deps.handler.rejectBinary(conn);
    deps.handler.accept(conn, data.toString());
  });
  ws.on('error', (err) => log.info({ err, connection: conn.id }, 'websocket error'));
  ws.on('close', (code) => {
    deps.expiry.remove(conn);
    void withSpan(
      SpanName.GATEWAY_WS_DISCONNECT,
      {
        kind: SpanKind.SERVER,
        parent: ROOT_CONTEXT,
        links: [{ context: connectContext }],
        attributes: {
          [Attr.EVENT]: SamplingEvent.CONNECTION,
          [Attr.USER_ID]: userId,
          [Attr.CONNECTION_ID]: conn.id,
          [Attr.GATEWAY_ID]: config.gatewayId,
          [Attr.WEBSOCKET_CLOSE_CODE]: code,
          [Attr.CONNECTION_DURATION_MS]: Date.now() - conn.connectedAt,
        },
      },
      async () => {
        if (hub.remove(conn) && !deps.isDraining()) {
          await presence.offline(config.gatewayId, [userId]);
        }
        deps.changed();
      },
    ).catch((err: unknown) => log.warn({ err }, 'presence update failed on disconnect'));
  });
  return conn;

  function sendBufferFull(full: Connection): void {
    countClosed(config.gatewayId, 'send_buffer_full');
    log.warn(
      { user: full.userId, connection: full.id, limit: config.maxBufferedBytes },
      'connection closed: send buffer full (the client does not read)',
    );
  }
}

/**
 * Ends a connection whose token expired: an `UNAUTHORIZED` error frame, then close code 4401.
 */
export function expireConnection(conn: Connection, gatewayId: string, log: Logger): void {
  if (!conn.open) return;
  conn.send(serverFrames.error(null, 'UNAUTHORIZED', 'token expired', null));
  conn.end(CloseCode.TOKEN_EXPIRED, 'token expired');
  countClosed(gatewayId, 'token_expired');
  log.info({ user: conn.userId, connection: conn.id }, 'connection closed: token expired');
}
