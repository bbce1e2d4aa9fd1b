import * as grpc from '@grpc/grpc-js';

export { grpc };
export { LOADER_OPTIONS, tracechatV1 } from './definitions';
export { RpcError, Status, bindServer, handleUnary, isServiceError, stopServer, unary } from './rpc';
export type { ChatMessage, ChatMessage__Output } from './generated/tracechat/v1/ChatMessage';
export type {
  ChatServiceClient,
  ChatServiceHandlers,
} from './generated/tracechat/v1/ChatService';
export type { DeliverRequest, DeliverRequest__Output } from './generated/tracechat/v1/DeliverRequest';
export type { DeliverResponse, DeliverResponse__Output } from './generated/tracechat/v1/DeliverResponse';
export type { HistoryRequest, HistoryRequest__Output } from './generated/tracechat/v1/HistoryRequest';
export type { HistoryResponse, HistoryResponse__Output } from './generated/tracechat/v1/HistoryResponse';
export type {
  JoinSessionRequest,
  JoinSessionRequest__Output,
} from './generated/tracechat/v1/JoinSessionRequest';
export type {
  JoinSessionResponse,
  JoinSessionResponse__Output,
} from './generated/tracechat/v1/JoinSessionResponse';
export type {
  LeaveSessionRequest,
  LeaveSessionRequest__Output,
} from './generated/tracechat/v1/LeaveSessionRequest';
export type {
  LeaveSessionResponse,
  LeaveSessionResponse__Output,
} from './generated/tracechat/v1/LeaveSessionResponse';
export type { PushServiceClient, PushServiceHandlers } from './generated/tracechat/v1/PushService';
export type {
  SendMessageRequest,
  SendMessageRequest__Output,
} from './generated/tracechat/v1/SendMessageRequest';
export type {
  SendMessageResponse,
  SendMessageResponse__Output,
} from './generated/tracechat/v1/SendMessageResponse';
export { EventDecodeError, decodeMessageEvent, encodeMessageEvent, messageSubject } from './events';
export type { MessageEvent } from './events';
