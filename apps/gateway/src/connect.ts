import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { SpanContext } from '@opentelemetry/api';
import type { WebSocket, WebSocketServer } from 'ws';
import { Attr, SamplingEvent, SpanName } from '@tracechat/contracts';
import type { Presence } from '@tracechat/presence';
import { SpanKind, contextFromCarrier, recordError, withSpan } from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import { authenticate } from './auth';
import type { GatewayConfig } from './config';
import { Connection, RateLimiter } from './connection';
import type { Hub } from './connection';
import type { FrameHandler } from './handler';

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
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
  );
}

/** An upgrade socket's error handler; a function of its own so it keeps nothing of the request. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * The HTTP upgrade handler of `/ws`: authenticates the token (401 otherwise) inside a
 * `gateway.ws.connect` span (a child of the client's traceparent when following is on), then
 * wires the connection's frames, its disconnect span and its presence.
 */
export function createUpgradeHandler(deps: ConnectDeps) {
  const { config, hub, presence, log } = deps;

  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroyOnError);
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== '/ws') return refuse(socket, 404, 'Not Found');
    if (deps.isDraining()) return refuse(socket, 503, 'Service Unavailable');
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
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
        try {
          userId = await withSpan(
            SpanName.GATEWAY_AUTH_AUTHENTICATE,
            {},
            () => authenticate(header('authorization'), url, config.authSecret).userId,
          );
        } catch (err) {
          recordError(span, err);
          return refuse(socket, 401, 'Unauthorized');
        }
        span.setAttribute(Attr.USER_ID, userId);
        const ws = await new Promise<WebSocket>((resolve) =>
          deps.wss.handleUpgrade(req, socket, head, resolve),
        );
        // wired outside this closure so an open connection does not keep the upgrade request
        const conn = wire(deps, ws, userId, span.spanContext());
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
function wire(deps: ConnectDeps, ws: WebSocket, userId: string, connectContext: SpanContext) {
  const { config, hub, presence, log } = deps;
  const conn = new Connection(
    userId,
    ws,
    new RateLimiter(config.rateLimitPerSecond, config.rateLimitBurst),
  );
  deps.alive.add(ws);
  ws.on('pong', () => deps.alive.add(ws));
  ws.on('message', (data, isBinary) => {
    if (isBinary) return deps.handler.rejectBinary(conn);
    deps.handler.accept(conn, data.toString());
  });
  ws.on('error', (err) => log.info({ err, connection: conn.id }, 'websocket error'));
  ws.on('close', (code) => {
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
}
