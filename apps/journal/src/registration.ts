import {
  Status,
  grpc,
  internalClientOptions,
  isServiceError,
  tracechatV1,
  unary,
} from '@tracechat/protos';
import type {
  HeartbeatRequest,
  HeartbeatResponse__Output,
  PlacementServiceClient,
  RegisterNodeRequest,
  RegisterNodeResponse__Output,
  ServiceTokens,
} from '@tracechat/protos';
import type { Logger } from '@tracechat/telemetry';

/**
 * Keeps this node registered with placement: registers, then heartbeats every third of the
 * lease; re-registers when placement has forgotten the node. Keeps retrying while placement is
 * unreachable, so the node serves reads and appends for shards it already has meanwhile.
 */
export class NodeRegistration {
  private readonly client: PlacementServiceClient;
  private timer: NodeJS.Timeout | undefined;
  private registered = false;
  private leaseMs = 10_000;
  private stopped = false;

  constructor(
    placementAddress: string,
    private readonly nodeId: string,
    private readonly address: string,
    private readonly deadlineMs: number,
    private readonly log: Logger,
    /** This node's identity (`journal` with its node id): placement accepts only that. */
    tokens: ServiceTokens,
  ) {
    const Client = tracechatV1().PlacementService;
    this.client = new Client(
      placementAddress,
      grpc.credentials.createInsecure(),
      internalClientOptions(tokens),
    );
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /**
   * Registers once (retrying until `timeoutMs`), then keeps heartbeating in the background.
   * While another process holds this node id at another address, placement refuses: the
   * retries outlast its lease when that process is gone, and fail the start when it is not.
   */
  async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.register();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        if (isServiceError(err) && err.code === Status.ALREADY_EXISTS) {
          this.log.warn(
            { node: this.nodeId, address: this.address },
            'node id is live elsewhere; waiting for its lease to run out',
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.schedule();
  }

  private async register(): Promise<void> {
    const res = await unary<RegisterNodeRequest, RegisterNodeResponse__Output>(
      this.client,
      this.client.RegisterNode,
      { nodeId: this.nodeId, address: this.address },
      this.deadlineMs,
    );
    this.leaseMs = res.leaseMs || this.leaseMs;
    if (!this.registered)
      this.log.info(
        { node: this.nodeId, address: this.address, leaseMs: this.leaseMs },
        'registered with placement',
      );
    this.registered = true;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.beat()
          .catch((err: unknown) => this.log.warn({ err }, 'placement heartbeat failed'))
          .finally(() => this.schedule());
      },
      Math.max(100, Math.floor(this.leaseMs / 3)),
    );
  }

  private async beat(): Promise<void> {
    try {
      await unary<HeartbeatRequest, HeartbeatResponse__Output>(
        this.client,
        this.client.Heartbeat,
        { nodeId: this.nodeId },
        this.deadlineMs,
      );
    } catch (err) {
      if (isServiceError(err) && err.code === Status.NOT_FOUND) {
        this.registered = false;
        await this.register();
        return;
      }
      throw err;
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client.close();
  }
}
