import {
  Status,
  batchedCalls,
  connected,
  grpc,
  internalClientOptions,
  isServiceError,
  tracechatV1,
  unary,
} from '@tracechat/protos';
import type { CallBatcher, ServiceTokens } from '@tracechat/protos';
import type {
  AppendMessageRequest,
  AppendMessageResponse__Output,
  JournalServiceClient,
  LookupShardRequest,
  LookupShardResponse__Output,
  PlacementServiceClient,
} from '@tracechat/protos';
import { SpanKind, withSpan } from '@tracechat/telemetry';
import { ChatError } from './errors';
import { Attr, SpanName } from '@tracechat/contracts';

export interface ShardRoute {
  readonly shardId: string;
  readonly nodeId: string;
  readonly nodeAddress: string;
}

/** How long a retried append waits for its journal node's channel to connect. */
const RECONNECT_WAIT_MS = 2000;

/** Session → shard → journal node, from placement, cached (a session's shard never moves). */
export class ShardDirectory {
  private readonly client: PlacementServiceClient;
  private readonly cache = new Map<string, ShardRoute>();

  constructor(
    placementAddress: string,
    private readonly deadlineMs: number,
    private readonly maxEntries: number,
    tokens: ServiceTokens,
  ) {
    const Client = tracechatV1().PlacementService;
    this.client = new Client(
      placementAddress,
      grpc.credentials.createInsecure(),
      internalClientOptions(tokens),
    );
  }

  /** The session's route; asks placement on a cache miss or when `refresh` is set. */
  lookup(sessionId: string, refresh = false): Promise<ShardRoute> {
    return withSpan(
      SpanName.LOGIC_PLACEMENT_LOOKUP_SHARD,
      { attributes: { [Attr.SESSION_ID]: sessionId } },
      async (span) => {
        const cached = refresh ? undefined : this.cache.get(sessionId);
        span.setAttribute(Attr.CACHE_HIT, cached !== undefined);
        if (cached) {
          span.setAttributes({
            [Attr.SHARD_ID]: cached.shardId,
            [Attr.JOURNAL_NODE_ID]: cached.nodeId,
          });
          return cached;
        }
        let res: LookupShardResponse__Output;
        try {
          res = await unary<LookupShardRequest, LookupShardResponse__Output>(
            this.client,
            this.client.LookupShard,
            { sessionId },
            this.deadlineMs,
          );
        } catch (err) {
          throw new ChatError('UNAVAILABLE', 'message storage is unavailable (placement)', {
            cause: err,
          });
        }
        const route = { shardId: res.shardId, nodeId: res.nodeId, nodeAddress: res.nodeAddress };
        span.setAttributes({
          [Attr.SHARD_ID]: route.shardId,
          [Attr.JOURNAL_NODE_ID]: route.nodeId,
          [Attr.SHARD_CREATED]: res.created,
        });
        if (!res.nodeUp) {
          // the shard stays on its node; do not cache, so the next call sees it come back
          throw new ChatError('UNAVAILABLE', `journal node ${res.nodeId} is down`);
        }
        if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(sessionId, route);
        return route;
      },
    );
  }

  forget(sessionId: string): void {
    this.cache.delete(sessionId);
  }

  close(): void {
    this.client.close();
  }
}

/**
 * Appends message records to the journal node that owns their shard. The appends of one turn of
 * the event loop to one node leave in one AppendMessages RPC, each under its own trace context.
 */
export class JournalWriter {
  private readonly clients = new Map<string, JournalServiceClient>();
  private readonly batchers = new Map<
    string,
    CallBatcher<AppendMessageRequest, AppendMessageResponse__Output>
  >();

  constructor(
    private readonly shards: ShardDirectory,
    private readonly deadlineMs: number,
    private readonly tokens: ServiceTokens,
  ) {}

  private client(address: string): JournalServiceClient {
    let client = this.clients.get(address);
    if (!client) {
      const Client = tracechatV1().JournalService;
      client = new Client(
        address,
        grpc.credentials.createInsecure(),
        internalClientOptions(this.tokens),
      );
      this.clients.set(address, client);
    }
    return client;
  }

  private batcher(
    address: string,
  ): CallBatcher<AppendMessageRequest, AppendMessageResponse__Output> {
    let batcher = this.batchers.get(address);
    if (!batcher) {
      const client = this.client(address);
      batcher = batchedCalls(client, client.AppendMessages, this.deadlineMs);
      this.batchers.set(address, batcher);
    }
    return batcher;
  }

  /**
   * Appends a message to its session's shard; the journal node assigns the seq and answers once
   * the record is durable. When the cached node cannot take it (gone, moved, or answering that
   * the shard is not there), the route is looked up again once and the append retried there,
   * with the same message id and client_msg_id. A reused client_msg_id with another text is
   * CONFLICT.
   */
  async appendMessage(
    message: Omit<AppendMessageRequest, 'shardId'> & { sessionId: string },
    /** Runs once the first append call is issued (callers use it to keep their order). */
    onIssued: () => void = () => undefined,
  ): Promise<AppendMessageResponse__Output> {
    const { sessionId } = message;
    let route = await this.shards.lookup(sessionId);
    for (let attempt = 0; ; attempt++) {
      try {
        return await withSpan(
          SpanName.LOGIC_JOURNAL_APPEND,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              [Attr.SESSION_ID]: sessionId,
              [Attr.SHARD_ID]: route.shardId,
              [Attr.JOURNAL_NODE_ID]: route.nodeId,
              [Attr.SERVER_ADDRESS]: route.nodeAddress,
            },
          },
          async (span) => {
            const call = this.batcher(route.nodeAddress).call({
              ...message,
              shardId: route.shardId,
            });
            onIssued();
            const res = await call;
            span.setAttributes({
              [Attr.JOURNAL_OFFSET]: res.offset,
              [Attr.MESSAGE_SEQ]: res.seq,
              [Attr.DUPLICATE]: res.duplicate,
            });
            return res;
          },
        );
      } catch (err) {
        if (isServiceError(err) && err.code === Status.ALREADY_EXISTS) {
          throw new ChatError(
            'CONFLICT',
            `client_msg_id ${message.clientMsgId ?? ''} was already used for a different text in this session`,
            { cause: err },
          );
        }
        if (isServiceError(err) && err.code === Status.DEADLINE_EXCEEDED) {
          // it may have been stored: the client retries with its client_msg_id
          throw new ChatError('UNAVAILABLE', 'message storage did not answer in time (journal)', {
            cause: err,
          });
        }
        const retriable =
          isServiceError(err) && (err.code === Status.UNAVAILABLE || err.code === Status.NOT_FOUND);
        if (!retriable) throw err;
        if (attempt > 0)
          throw new ChatError('UNAVAILABLE', 'message storage is unavailable (journal)', {
            cause: err,
          });
        this.shards.forget(sessionId);
        route = await this.shards.lookup(sessionId, true);
        // a node that is restarting listens again within moments: wait for it briefly
        await connected(this.client(route.nodeAddress), RECONNECT_WAIT_MS);
      }
    }
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.batchers.clear();
  }
}
