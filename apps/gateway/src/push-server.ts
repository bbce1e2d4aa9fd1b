import {
  batchHandler,
  bindServer,
  handleUnary,
  internalServer,
  stopServer,
  tracechatV1,
} from '@tracechat/protos';
import type { grpc } from '@tracechat/protos';
import type { PushServiceHandlers } from '@tracechat/protos';
import type { Logger } from '@tracechat/telemetry';
import type { Hub } from './connection';
import { deliver } from './push';

/** PushService, which task calls to write messages to this gateway's connections. */
export class PushServer {
  private readonly server: grpc.Server;

  constructor(hub: Hub, gatewayId: string, serviceSecret: string, log: Logger) {
    this.server = internalServer({
      secret: serviceSecret,
      onRefused: (refusal) => log.warn({ refusal }, 'internal call refused'),
    });
    const onInternalError = (err: unknown) => log.error({ err }, 'deliver failed');
    const handlers: PushServiceHandlers = {
      Deliver: handleUnary((req) => deliver(hub, gatewayId, req), onInternalError),
      // in request order: a session's messages reach each connection in the order task sent them
      DeliverBatch: batchHandler((req) => deliver(hub, gatewayId, req), {
        mapError: (err) => err,
        onInternalError,
        sequential: true,
      }),
    };
    this.server.addService(tracechatV1().PushService.service, handlers);
  }

  /** Binds `address` (port 0 picks one) and returns the bound port. */
  listen(address: string): Promise<number> {
    return bindServer(this.server, address);
  }

  close(): Promise<void> {
    return stopServer(this.server);
  }
}
