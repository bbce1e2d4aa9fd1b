import * as grpc from '@grpc/grpc-js';
import { tracechatV1 } from './definitions';
import { batchedCalls } from './batch';
import type { CallBatcher } from './batch';
import { internalClientOptions } from './identity';
import type { ServiceTokens } from './identity';
import { unary } from './rpc';
import type {
  ChatServiceClient,
  GetMessageRequest,
  GetMessageResponse__Output,
  HistoryRequest,
  HistoryResponse__Output,
  InviteMemberRequest,
  InviteMemberResponse__Output,
  JoinSessionRequest,
  JoinSessionResponse__Output,
  LeaveSessionRequest,
  LeaveSessionResponse__Output,
  ListMembersRequest,
  ListMembersResponse__Output,
  SendMessageRequest,
  SendMessageResponse__Output,
} from './index';

/**
 * ChatService (logic) calls with a deadline each, sent with this service's token; errors are
 * grpc ServiceErrors.
 */
export class LogicClient {
  private readonly client: ChatServiceClient;
  /** Sends leave in batches: the sends of one event-loop turn share one SendMessages RPC. */
  private readonly sends: CallBatcher<SendMessageRequest, SendMessageResponse__Output>;

  constructor(
    address: string,
    private readonly deadlineMs: number,
    tokens: ServiceTokens,
  ) {
    const Client = tracechatV1().ChatService;
    this.client = new Client(
      address,
      grpc.credentials.createInsecure(),
      internalClientOptions(tokens, { 'grpc.keepalive_time_ms': 30_000 }),
    );
    this.sends = batchedCalls(this.client, this.client.SendMessages, this.deadlineMs);
  }

  /**
   * Sends one message; batched with the other sends of this turn of the event loop, under the
   * caller's own trace context. Errors are shaped like the ServiceError of a call of its own.
   */
  sendMessage(req: SendMessageRequest): Promise<SendMessageResponse__Output> {
    return this.sends.call(req);
  }

  joinSession(req: JoinSessionRequest): Promise<JoinSessionResponse__Output> {
    return unary(this.client, this.client.JoinSession, req, this.deadlineMs);
  }

  inviteMember(req: InviteMemberRequest): Promise<InviteMemberResponse__Output> {
    return unary(this.client, this.client.InviteMember, req, this.deadlineMs);
  }

  listMembers(req: ListMembersRequest): Promise<ListMembersResponse__Output> {
    return unary(this.client, this.client.ListMembers, req, this.deadlineMs);
  }

  leaveSession(req: LeaveSessionRequest): Promise<LeaveSessionResponse__Output> {
    return unary(this.client, this.client.LeaveSession, req, this.deadlineMs);
  }

  history(req: HistoryRequest): Promise<HistoryResponse__Output> {
    return unary(this.client, this.client.History, req, this.deadlineMs);
  }

  /** One message's metadata for a member of its session; NOT_FOUND for anyone else. */
  getMessage(req: GetMessageRequest): Promise<GetMessageResponse__Output> {
    return unary(this.client, this.client.GetMessage, req, this.deadlineMs);
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
