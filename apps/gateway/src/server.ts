import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { Attr, MetricName } from '@tracechat/contracts';
import { Presence, WhitelistStore } from '@tracechat/presence';
import { LogicClient, ServiceTokens } from '@tracechat/protos';
import { runChecks } from '@tracechat/runtime';
import { setGauge, startWhitelistSync } from '@tracechat/telemetry';
import type { Logger, WhitelistSync } from '@tracechat/telemetry';
import { registerAdmin } from './admin';
import type { GatewayConfig } from './config';
import { createUpgradeHandler, expireConnection, registerConnectionCounters } from './connect';
import { Hub } from './connection';
import type { Connection } from './connection';
import { ExpiryWheel } from './expiry';
import { FrameHandler } from './handler';
import { MqttFrontDoor } from './mqtt/front-door';
import { registerHttpApi } from './http-api';
import { ConnectionSlots } from './limits';
import { PushServer } from './push-server';
import { registerWebApp } from './web-app';

export interface Gateway {
  /**
   * Connects Redis, serves HTTP/WebSocket (and MQTT over WebSocket at `/mqtt`), MQTT 5 over TCP,
   * the admin API (on its own port) and PushService; resolves with the bound ports.
   */
  listen(): Promise<{
    port: number;
    pushPort: number;
    adminPort: number;
    /** The MQTT 5 TCP listener's port; null when `MQTT_PORT` is off. */
    mqttPort: number | null;
  }>;
  /** Stops accepting, closes connections (1001), withdraws presence, closes clients. */
  close(): Promise<void>;
  readonly connections: number;
}

/** How often unanswered WebSocket pings end a connection. */
const LIVENESS_INTERVAL_MS = 30_000;
const READINESS_TIMEOUT_MS = 1000;

/** Builds a gateway; nothing listens until `listen`. */
export function buildGateway(config: GatewayConfig, log: Logger): Gateway {
  const app = Fastify({ logger: false });
  // the admin API listens apart, on a private address, so the public port never serves it;
  // ids in admin paths may be 128 characters: let them reach validation (400), not a 414
  const adminApp = Fastify({ logger: false, routerOptions: { maxParamLength: 256 } });
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    keyPrefix: config.redisKeyPrefix,
    // every command answers in a millisecond when Redis is well; see docs/architecture.md
    commandTimeout: 2000,
  });
  redis.on('error', (err) => log.warn({ err }, 'redis error'));
  const presence = new Presence(redis, config.presenceTtlSeconds);
  const whitelist = new WhitelistStore(redis, config.whitelistTtlSeconds);
  const tokens = new ServiceTokens({ service: 'gateway' }, config.serviceSecret);
  const logic = new LogicClient(config.logicAddress, config.rpcDeadlineMs, tokens);
  const hub = new Hub();
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxFrameBytes });
  const push = new PushServer(hub, config.gatewayId, config.serviceSecret, log);
  const alive = new WeakSet<WebSocket>();
  const handler = new FrameHandler({
    gatewayId: config.gatewayId,
    logic,
    limits: { maxTextBytes: config.maxTextBytes, maxHistoryLimit: config.maxHistoryLimit },
    followTraceparent: config.followTraceparent,
    log,
  });
  let draining = false;
  let advertised = config.pushAdvertiseAddress;
  const timers: NodeJS.Timeout[] = [];
  let whitelistSync: WhitelistSync | undefined;

  const gaugeConnections = () =>
    setGauge(
      MetricName.GATEWAY_CONNECTIONS,
      hub.size,
      { [Attr.GATEWAY_ID]: config.gatewayId },
      'Open WebSocket and MQTT connections',
    );

  app.get('/healthz', async () => ({ status: 'ok', gateway: config.gatewayId }));
  app.get('/readyz', async (_req, reply) => {
    if (draining) return reply.code(503).send({ status: 'draining' });
    const { ok, results } = await runChecks(
      { redis: () => redis.ping(), logic: () => logic.ready(READINESS_TIMEOUT_MS) },
      READINESS_TIMEOUT_MS,
    );
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks: results });
  });
  registerWebApp(app, config.webRoot);
  registerHttpApi(app, { config, logic, log });
  registerAdmin(adminApp, {
    token: config.adminToken,
    whitelist,
    changed: async () => {
      await whitelistSync?.refresh();
    },
  });

  const slots = new ConnectionSlots({
    total: config.maxConnections,
    perUser: config.maxConnectionsPerUser,
    perAddress: config.maxConnectionsPerAddress,
  });
  const expiry = new ExpiryWheel<Connection>((conn) =>
    expireConnection(conn, config.gatewayId, log),
  );

  const mqtt = new MqttFrontDoor({
    config,
    logic,
    hub,
    presence,
    slots,
    log,
    isDraining: () => draining,
    changed: gaugeConnections,
  });

  const onUpgrade = createUpgradeHandler({
    config,
    followTraceparent: config.followTraceparent,
    wss,
    hub,
    handler,
    presence,
    log,
    alive,
    isDraining: () => draining,
    changed: gaugeConnections,
    slots,
    expiry,
    mqtt: (req, socket, head) => mqtt.upgrade(req, socket, head),
  });

  /** Announces this gateway's push address and refreshes its users' presence. */
  const beat = async () => {
    await presence.announceGateway(config.gatewayId, advertised);
    await presence.online(config.gatewayId, hub.users());
  };

  /** Ends connections that did not answer the previous ping, then pings the rest. */
  const checkLiveness = () => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
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
      await adminApp.listen({ host: config.adminHost, port: config.adminPort });
      const adminAddress = adminApp.server.address();
      const adminPort =
        typeof adminAddress === 'object' && adminAddress ? adminAddress.port : config.adminPort;
      const pushPort = await push.listen(config.pushAddress);
      const mqttPort = await mqtt.listen();
      advertised = advertised.replace(/:0$/, `:${pushPort}`);
      await beat();
      timers.push(
        setInterval(
          () => beat().catch((err: unknown) => log.warn({ err }, 'presence heartbeat failed')),
          Math.max(1000, (config.presenceTtlSeconds * 1000) / 3),
        ),
        setInterval(checkLiveness, LIVENESS_INTERVAL_MS),
      );
      gaugeConnections();
      registerConnectionCounters(config.gatewayId);
      log.info(
        { port, pushPort, adminPort, mqttPort, gateway: config.gatewayId, push: advertised },
        'gateway listening',
      );
      return { port, pushPort, adminPort, mqttPort };
    },

    async close() {
      draining = true;
      for (const timer of timers) clearInterval(timer);
      whitelistSync?.stop();
      expiry.stop();
      app.server.off('upgrade', onUpgrade);
      const users = [...hub.users()];
      await presence.withdrawGateway(config.gatewayId).catch(() => undefined);
      await presence.offline(config.gatewayId, users).catch(() => undefined);
      for (const conn of hub.all()) conn.shutdown();
      await mqtt.close();
      await push.close();
      logic.close();
      await app.close();
      await adminApp.close();
      for (const ws of wss.clients) ws.terminate();
      await redis.quit().catch(() => undefined);
    },
  };
}
