import { batchedCalls, grpc, internalClientOptions, tracechatV1 } from '@tracechat/protos';
import type { CallBatcher, ServiceTokens } from '@tracechat/protos';
import type {
  ChatMessage,
  DeliverRequest,
  DeliverResponse__Output,
  PushServiceClient,
} from '@tracechat/protos';
import { SpanKind, withSpan } from '@tracechat/telemetry';
import type { Route } from './router';
import { Attr, SpanName } from '@tracechat/contracts';

export interface RetryPolicy {
  /** Deliver calls to one gateway before the push is given up (first try included). */
  readonly attempts: number;
  /** Wait before the first retry; doubled after each failure, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** A push that failed every attempt; `cause` is the last attempt's error. */
export class PushExhaustedError extends Error {
  override readonly name = 'PushExhaustedError';
  readonly code = 'PUSH_EXHAUSTED';
  constructor(
    readonly gatewayId: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(`push to ${gatewayId} failed ${attempts} times`, options);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Deliveries = CallBatcher<DeliverRequest, DeliverResponse__Output>;

/**
 * PushService clients, one per gateway address, reused across messages. The pushes of one turn
 * of the event loop to one gateway leave in one DeliverBatch RPC, in the order they were made
 * (the gateway handles them in that order), each under its own `task.push.gateway` span. Clients
 * of addresses that left the cluster are closed by `retain`.
 */
export class Pusher {
  private readonly clients = new Map<string, { client: PushServiceClient; batcher: Deliveries }>();
  /** The gateway each address was last used for. */
  private readonly gateways = new Map<string, string>();

  constructor(
    private readonly deadlineMs: number,
    private readonly tokens: ServiceTokens,
    private readonly retry: RetryPolicy = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
  ) {}

  private deliveries(address: string): Deliveries {
    let entry = this.clients.get(address);
    if (!entry) {
      const Client = tracechatV1().PushService;
      const client = new Client(
        address,
        grpc.credentials.createInsecure(),
        internalClientOptions(this.tokens),
      );
      entry = { client, batcher: batchedCalls(client, client.DeliverBatch, this.deadlineMs) };
      this.clients.set(address, entry);
    }
    return entry.batcher;
  }

  /** Addresses with an open client. */
  get addresses(): readonly string[] {
    return [...this.clients.keys()];
  }

  /** Gateways with an open client. */
  get gatewayIds(): readonly string[] {
    return [...new Set(this.gateways.values())];
  }

  /**
   * Closes the client of every address that is not `live` (gateway id → its announced address):
   * gateways that left the cluster, or came back on another address.
   */
  retain(live: ReadonlyMap<string, string>): void {
    for (const [address, { client }] of this.clients) {
      const gatewayId = this.gateways.get(address);
      if (gatewayId !== undefined && live.get(gatewayId) === address) continue;
      client.close();
      this.clients.delete(address);
      this.gateways.delete(address);
    }
  }

  /**
   * Delivers to one gateway in one `task.push.gateway` span, retrying that gateway alone with
   * backoff; rejects with PushExhaustedError once the attempts are spent. A gateway that no longer
   * holds the users' connections answers 0 connections: that is a success, not a failure.
   * `onRetry` runs before each retry (task uses it to extend the JetStream ack deadline).
   */
  push(
    route: Route,
    message: ChatMessage,
    excludeConnectionId: string,
    onRetry: () => void = () => undefined,
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
        const request = { message, userIds: [...route.userIds], excludeConnectionId };
        let delay = this.retry.baseDelayMs;
        for (let attempt = 1; ; attempt++) {
          try {
            const deliveries = this.deliveries(route.address);
            this.gateways.set(route.address, route.gatewayId);
            const res = await deliveries.call(request);
            span.setAttribute(Attr.CONNECTION_COUNT, res.connections);
            return res;
          } catch (err) {
            if (attempt >= this.retry.attempts) {
              throw new PushExhaustedError(route.gatewayId, attempt, { cause: err });
            }
            span.addEvent('push.retry', {
              attempt,
              'rpc.grpc.status_code': (err as { code?: number }).code ?? -1,
            });
            onRetry();
            await sleep(delay);
            delay = Math.min(this.retry.maxDelayMs, delay * 2);
          }
        }
      },
    );
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
    this.gateways.clear();
  }
}
