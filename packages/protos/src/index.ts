import * as grpc from '@grpc/grpc-js';

export { grpc };
export { LOADER_OPTIONS, tracechatV1 } from './definitions';
export { BatchCallError, CallBatcher, MAX_BATCH_CALLS, batchHandler, batchedCalls } from './batch';
export type { BatchCall, BatchResult, CallTrace } from './batch';
export { LogicClient } from './logic-client';
export {
  RefusalReason,
  SERVICE_CALLERS,
  SERVICE_TOKEN_AUDIENCE,
  SERVICE_TOKEN_ISSUER,
  SERVICE_TOKEN_MAX_LIFETIME_SECONDS,
  SERVICE_TOKEN_REMINT_SECONDS,
  SERVICE_TOKEN_SKEW_SECONDS,
  SERVICE_TOKEN_TTL_SECONDS,
  ServiceName,
  ServiceTokenError,
  ServiceTokenVerifier,
  ServiceTokens,
  callerIdentity,
  countRefusal,
  describeIdentity,
  internalClientOptions,
  internalServer,
  serviceAuthInterceptor,
  signServiceToken,
  verifyServiceToken,
} from './identity';
export type {
  InternalServerAuth,
  RpcRefusal,
  ServiceIdentity,
  VerifiedServiceToken,
} from './identity';
export {
  CodedError,
  RpcError,
  Status,
  bindServer,
  connected,
  countLimitClamped,
  handleUnary,
  isServiceError,
  rpcErrorMapper,
  stopServer,
  unary,
  unaryHandlers,
} from './rpc';
export type {
  AppendMessageRequest,
  AppendMessageRequest__Output,
} from './generated/tracechat/v1/AppendMessageRequest';
export type {
  AppendMessageResponse,
  AppendMessageResponse__Output,
} from './generated/tracechat/v1/AppendMessageResponse';
export type { AppendRequest, AppendRequest__Output } from './generated/tracechat/v1/AppendRequest';
export type {
  AppendResponse,
  AppendResponse__Output,
} from './generated/tracechat/v1/AppendResponse';
export type { ChatMessage, ChatMessage__Output } from './generated/tracechat/v1/ChatMessage';
export type { ChatServiceClient, ChatServiceHandlers } from './generated/tracechat/v1/ChatService';
export type {
  DeliverRequest,
  DeliverRequest__Output,
} from './generated/tracechat/v1/DeliverRequest';
export type {
  DeliverResponse,
  DeliverResponse__Output,
} from './generated/tracechat/v1/DeliverResponse';
export type {
  HeartbeatRequest,
  HeartbeatRequest__Output,
} from './generated/tracechat/v1/HeartbeatRequest';
export type {
  HeartbeatResponse,
  HeartbeatResponse__Output,
} from './generated/tracechat/v1/HeartbeatResponse';
export type {
  GetMessageRequest,
  GetMessageRequest__Output,
} from './generated/tracechat/v1/GetMessageRequest';
export type {
  GetMessageResponse,
  GetMessageResponse__Output,
} from './generated/tracechat/v1/GetMessageResponse';
export type {
  HistoryRequest,
  HistoryRequest__Output,
} from './generated/tracechat/v1/HistoryRequest';
export type {
  HistoryResponse,
  HistoryResponse__Output,
} from './generated/tracechat/v1/HistoryResponse';
export type {
  InviteMemberRequest,
  InviteMemberRequest__Output,
} from './generated/tracechat/v1/InviteMemberRequest';
export type {
  InviteMemberResponse,
  InviteMemberResponse__Output,
} from './generated/tracechat/v1/InviteMemberResponse';
export type {
  ListMembersRequest,
  ListMembersRequest__Output,
} from './generated/tracechat/v1/ListMembersRequest';
export type {
  ListMembersResponse,
  ListMembersResponse__Output,
} from './generated/tracechat/v1/ListMembersResponse';
export type {
  JoinSessionRequest,
  JoinSessionRequest__Output,
} from './generated/tracechat/v1/JoinSessionRequest';
export type {
  JoinSessionResponse,
  JoinSessionResponse__Output,
} from './generated/tracechat/v1/JoinSessionResponse';
export type { JournalNode, JournalNode__Output } from './generated/tracechat/v1/JournalNode';
export type {
  JournalServiceClient,
  JournalServiceHandlers,
} from './generated/tracechat/v1/JournalService';
export type {
  LeaveSessionRequest,
  LeaveSessionRequest__Output,
} from './generated/tracechat/v1/LeaveSessionRequest';
export type {
  LeaveSessionResponse,
  LeaveSessionResponse__Output,
} from './generated/tracechat/v1/LeaveSessionResponse';
export type {
  ListNodesRequest,
  ListNodesRequest__Output,
} from './generated/tracechat/v1/ListNodesRequest';
export type {
  ListNodesResponse,
  ListNodesResponse__Output,
} from './generated/tracechat/v1/ListNodesResponse';
export type {
  ListShardsRequest,
  ListShardsRequest__Output,
} from './generated/tracechat/v1/ListShardsRequest';
export type {
  ListShardsResponse,
  ListShardsResponse__Output,
} from './generated/tracechat/v1/ListShardsResponse';
export type {
  LookupShardRequest,
  LookupShardRequest__Output,
} from './generated/tracechat/v1/LookupShardRequest';
export type {
  LookupShardResponse,
  LookupShardResponse__Output,
} from './generated/tracechat/v1/LookupShardResponse';
export type { NewRecord, NewRecord__Output } from './generated/tracechat/v1/NewRecord';
export { NodeStatus } from './generated/tracechat/v1/NodeStatus';
export type { NodeStatus__Output } from './generated/tracechat/v1/NodeStatus';
export type {
  PlacementServiceClient,
  PlacementServiceHandlers,
} from './generated/tracechat/v1/PlacementService';
export type { PushServiceClient, PushServiceHandlers } from './generated/tracechat/v1/PushService';
export type { ReadRequest, ReadRequest__Output } from './generated/tracechat/v1/ReadRequest';
export type { ReadResponse, ReadResponse__Output } from './generated/tracechat/v1/ReadResponse';
export type {
  RegisterNodeRequest,
  RegisterNodeRequest__Output,
} from './generated/tracechat/v1/RegisterNodeRequest';
export type {
  RegisterNodeResponse,
  RegisterNodeResponse__Output,
} from './generated/tracechat/v1/RegisterNodeResponse';
export type {
  SendMessageRequest,
  SendMessageRequest__Output,
} from './generated/tracechat/v1/SendMessageRequest';
export type {
  SendMessageResponse,
  SendMessageResponse__Output,
} from './generated/tracechat/v1/SendMessageResponse';
export type {
  ShardAssignment,
  ShardAssignment__Output,
} from './generated/tracechat/v1/ShardAssignment';
export type {
  ShardInfoRequest,
  ShardInfoRequest__Output,
} from './generated/tracechat/v1/ShardInfoRequest';
export type {
  ShardInfoResponse,
  ShardInfoResponse__Output,
} from './generated/tracechat/v1/ShardInfoResponse';
export type { StoredRecord, StoredRecord__Output } from './generated/tracechat/v1/StoredRecord';
export type {
  SendMessagesRequest,
  SendMessagesRequest__Output,
} from './generated/tracechat/v1/SendMessagesRequest';
export type {
  SendMessagesResponse,
  SendMessagesResponse__Output,
} from './generated/tracechat/v1/SendMessagesResponse';
export type {
  AppendMessagesRequest,
  AppendMessagesRequest__Output,
} from './generated/tracechat/v1/AppendMessagesRequest';
export type {
  AppendMessagesResponse,
  AppendMessagesResponse__Output,
} from './generated/tracechat/v1/AppendMessagesResponse';
export type {
  DeliverBatchRequest,
  DeliverBatchRequest__Output,
} from './generated/tracechat/v1/DeliverBatchRequest';
export type {
  DeliverBatchResponse,
  DeliverBatchResponse__Output,
} from './generated/tracechat/v1/DeliverBatchResponse';
