import { grpc, tracechatV1, unary } from '@tracechat/protos';
import type {
  ChatMessage,
  DeliverRequest,
  DeliverResponse__Output,
  PushServiceClient,
} from '@tracechat/protos';
import { SpanKind, withSpan } from '@tracechat/telemetry';
import type { Route } from './router';
import { Attr, SpanName } from '@tracechat/contracts';

/** PushService clients, one per gateway address, reused across messages. */
export class Pusher {
  private readonly clients = new Map<string, PushServiceClient>();

  constructor(private readonly deadlineMs: number) {}

  private client(address: string): PushServiceClient {
    let client = this.clients.get(address);
    if (!client) {
      const Client = tracechatV1().PushService;
      client = new Client(address, grpc.credentials.createInsecure());
      this.clients.set(address, client);
    }
    return client;
  }

  /** One Deliver call to one gateway, in its own span. */
  push(
    route: Route,
    message: ChatMessage,
    excludeConnectionId: string,
  ): Promise<DeliverResponse__Output> {
    return withSpan(
      SpanName.TASK_PUSH_GATEWAY,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [Attr.GATEWAY_ID]: route.gatewayId,
          [Attr.USER_COUNT]: route.userIds.length,
          [Attr.SERVER_ADDRESS]: route.address,
        },
      },
      async (span) => {
        const client = this.client(route.address);
        const res = await unary<DeliverRequest, DeliverResponse__Output>(
          client,
          client.Deliver,
          { message, userIds: [...route.userIds], excludeConnectionId },
          this.deadlineMs,
        );
        span.setAttribute(Attr.CONNECTION_COUNT, res.connections);
        return res;
      },
    );
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
