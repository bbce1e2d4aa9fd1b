import { grpc, tracechatV1, unary } from '@tracechat/protos';
import type {
  ChatServiceClient,
  HistoryRequest,
  HistoryResponse__Output,
  JoinSessionRequest,
  JoinSessionResponse__Output,
  LeaveSessionRequest,
  LeaveSessionResponse__Output,
  SendMessageRequest,
  SendMessageResponse__Output,
} from '@tracechat/protos';

/** ChatService calls with a deadline each; errors are grpc ServiceErrors. */
export class LogicClient {
  private readonly client: ChatServiceClient;

  constructor(
    address: string,
    private readonly deadlineMs: number,
  ) {
    const Client = tracechatV1().ChatService;
    this.client = new Client(address, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 30_000,
    });
  }

  sendMessage(req: SendMessageRequest): Promise<SendMessageResponse__Output> {
    return unary(this.client, this.client.SendMessage, req, this.deadlineMs);
  }

  joinSession(req: JoinSessionRequest): Promise<JoinSessionResponse__Output> {
    return unary(this.client, this.client.JoinSession, req, this.deadlineMs);
  }

  leaveSession(req: LeaveSessionRequest): Promise<LeaveSessionResponse__Output> {
    return unary(this.client, this.client.LeaveSession, req, this.deadlineMs);
  }

  history(req: HistoryRequest): Promise<HistoryResponse__Output> {
    return unary(this.client, this.client.History, req, this.deadlineMs);
  }

  /** Resolves when the channel is connected, rejects after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): void {
    this.client.close();
  }
}
