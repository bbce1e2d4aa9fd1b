import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { Presence, WhitelistStore } from '@tracechat/presence';
import { bindServer, grpc, handleUnary, stopServer, tracechatV1 } from '@tracechat/protos';
import type { PushServiceHandlers } from '@tracechat/protos';
import {
  SamplingAttributes,
  SpanKind,
  contextFromCarrier,
  recordError,
  setGauge,
  startWhitelistSync,
  withSpan,
} from '@tracechat/telemetry';
import type { Logger, WhitelistSync } from '@tracechat/telemetry';
import { registerAdmin } from './admin';
import { AuthError, tokenFromRequest, verifyToken } from './auth';
import type { GatewayConfig } from './config';
import { Connection, Hub, RateLimiter } from './connection';
import { FrameHandler } from './handler';
import { LogicClient } from './logic-client';
import { deliver } from './push';

export interface Gateway {
  /** Connects Redis, serves HTTP/WebSocket and PushService; resolves with the bound ports. */
  listen(): Promise<{ port: number; pushPort: number }>;
  /** Stops accepting, closes connections (1001), withdraws presence, closes clients. */
  close(): Promise<void>;
  readonly connections: number;
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
  );
}

/** Builds a gateway; nothing listens until `listen`. */
export function buildGateway(config: GatewayConfig, log: Logger): Gateway {
  // ids in admin paths may be 128 characters: let them reach validation (400), not a 414
  const app = Fastify({ logger: false, maxParamLength: 256 });
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    keyPrefix: config.redisKeyPrefix,
  });
  const presence = new Presence(redis, config.presenceTtlSeconds);
  const logic = new LogicClient(config.logicAddress, config.rpcDeadlineMs);
  const hub = new Hub();
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxFrameBytes });
  const push = new grpc.Server();
  const handler = new FrameHandler({
    gatewayId: config.gatewayId,
    logic,
    limits: { maxTextBytes: config.maxTextBytes, maxHistoryLimit: config.maxHistoryLimit },
    followTraceparent: config.followTraceparent,
    log,
  });
  let draining = false;
  let advertised = config.pushAdvertiseAddress;
  let heartbeat: NodeJS.Timeout | undefined;
  let liveness: NodeJS.Timeout | undefined;
  let whitelistSync: WhitelistSync | undefined;
  const whitelist = new WhitelistStore(redis);
  const alive = new WeakSet<WebSocket>();
  redis.on('error', (err) => log.warn({ err }, 'redis error'));

  const gaugeConnections = () =>
    setGauge(
      'tracechat.gateway.connections',
      hub.size,
      { 'chat.gateway.id': config.gatewayId },
      'Open WebSocket connections',
    );

  app.get('/healthz', async () => ({ status: 'ok', gateway: config.gatewayId }));
  app.get('/readyz', async (_req, reply) => {
    if (draining) return reply.code(503).send({ status: 'draining' });
    const checks: Record<string, string> = {};
    await Promise.all([
      redis.ping().then(
        () => (checks.redis = 'ok'),
        (err: Error) => (checks.redis = err.message),
      ),
      logic.ready(1000).then(
        () => (checks.logic = 'ok'),
        (err: Error) => (checks.logic = err.message),
      ),
    ]);
    const ok = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks });
  });

  registerAdmin(app, {
    token: config.adminToken,
    whitelist,
    changed: async () => {
      await whitelistSync?.refresh();
    },
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== '/ws') return refuse(socket, 404, 'Not Found');
    if (draining) return refuse(socket, 503, 'Service Unavailable');
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const parent = config.followTraceparent
      ? contextFromCarrier(
          {
            traceparent: header('traceparent') ?? url.searchParams.get('traceparent') ?? undefined,
            tracestate: header('tracestate') ?? url.searchParams.get('tracestate') ?? undefined,
          },
          ROOT_CONTEXT,
        )
      : ROOT_CONTEXT;
    void withSpan(
      'gateway.ws.connect',
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: {
          [SamplingAttributes.EVENT]: 'connection',
          'chat.gateway.id': config.gatewayId,
        },
      },
      async (span) => {
        let userId: string;
        try {
          userId = await withSpan('gateway.auth.authenticate', {}, () => {
            const token = tokenFromRequest(header('authorization'), url);
            if (!token) throw new AuthError('missing token');
            return verifyToken(token, config.authSecret).userId;
          });
        } catch (err) {
          recordError(span, err);
          return refuse(socket, 401, 'Unauthorized');
        }
        span.setAttribute('chat.user.id', userId);
        const ws = await new Promise<WebSocket>((resolve) =>
          wss.handleUpgrade(req, socket, head, resolve),
        );
        const conn = new Connection(
          userId,
          ws,
          new RateLimiter(config.rateLimitPerSecond, config.rateLimitBurst),
        );
        span.setAttribute('chat.connection.id', conn.id);
        const connectContext = span.spanContext();
        alive.add(ws);
        ws.on('pong', () => alive.add(ws));
        ws.on('message', (data, isBinary) => {
          if (isBinary) return handler.rejectBinary(conn);
          handler.accept(conn, data.toString());
        });
        ws.on('error', (err) => log.info({ err, connection: conn.id }, 'websocket error'));
        ws.on('close', (code) => {
          void withSpan(
            'gateway.ws.disconnect',
            {
              kind: SpanKind.SERVER,
              parent: ROOT_CONTEXT,
              links: [{ context: connectContext }],
              attributes: {
                [SamplingAttributes.EVENT]: 'connection',
                [SamplingAttributes.USER]: userId,
                'chat.connection.id': conn.id,
                'chat.gateway.id': config.gatewayId,
                'websocket.close.code': code,
                'chat.connection.duration_ms': Date.now() - conn.connectedAt,
              },
            },
            async () => {
              if (hub.remove(conn) && !draining) await presence.offline(config.gatewayId, [userId]);
              gaugeConnections();
            },
          ).catch((err: unknown) => log.warn({ err }, 'presence update failed on disconnect'));
        });
        if (hub.add(conn)) await presence.online(config.gatewayId, [userId]);
        gaugeConnections();
      },
    ).catch((err: unknown) => {
      log.error({ err }, 'connect failed');
      socket.destroy();
    });
  };

  const pushHandlers: PushServiceHandlers = {
    Deliver: handleUnary(
      (req) => deliver(hub, config.gatewayId, req),
      (err) => log.error({ err }, 'deliver failed'),
    ),
  };
  push.addService(tracechatV1().PushService.service, pushHandlers);

  const beat = async () => {
    await presence.announceGateway(config.gatewayId, advertised);
    await presence.online(config.gatewayId, hub.users());
  };

  return {
    get connections() {
      return hub.size;
    },

    async listen() {
      await redis.connect();
      whitelistSync = startWhitelistSync(whitelist, config.whitelistSyncIntervalMs, (err) =>
        log.warn({ err }, 'sampling whitelist refresh failed'),
      );
      app.server.on('upgrade', onUpgrade);
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const pushPort = await bindServer(push, config.pushAddress);
      advertised = advertised.replace(/:0$/, `:${pushPort}`);
      await beat();
      heartbeat = setInterval(
        () => {
          beat().catch((err: unknown) => log.warn({ err }, 'presence heartbeat failed'));
        },
        Math.max(1000, (config.presenceTtlSeconds * 1000) / 3),
      );
      liveness = setInterval(() => {
        for (const ws of wss.clients) {
          if (!alive.has(ws)) {
            ws.terminate();
            continue;
          }
          alive.delete(ws);
          ws.ping();
        }
      }, 30_000);
      gaugeConnections();
      log.info(
        { port, pushPort, gateway: config.gatewayId, push: advertised },
        'gateway listening',
      );
      return { port, pushPort };
    },

    async close() {
      draining = true;
      clearInterval(heartbeat);
      clearInterval(liveness);
      whitelistSync?.stop();
      app.server.off('upgrade', onUpgrade);
      const users = [...hub.users()];
      await presence.withdrawGateway(config.gatewayId).catch(() => undefined);
      await presence.offline(config.gatewayId, users).catch(() => undefined);
      for (const conn of hub.all()) conn.socket.close(1001, 'gateway shutting down');
      await stopServer(push);
      logic.close();
      await app.close();
      for (const ws of wss.clients) ws.terminate();
      await redis.quit().catch(() => undefined);
    },
  };
}
