export { Attr, MetricName, SamplingEvent, SpanName } from './catalog';
export { CloseCode, ErrorCode, FrameError, HttpErrorCode } from './errors';
export { EventDecodeError, decodeMessageEvent, encodeMessageEvent, messageSubject } from './events';
export type { MessageEvent } from './events';
export {
  MESSAGE_RECORD_VERSION,
  RecordDecodeError,
  decodeRecordData,
  encodeMessageRecord,
} from './journal-record';
export type { DecodedRecord, MessageRecord } from './journal-record';
export {
  CLIENT_FRAME_TYPES,
  DEFAULT_LIMITS,
  MAX_FRAME_ID_LENGTH,
  decodeFrame,
  frameIdOf,
  parseFrame,
  serverFrames,
} from './frames';
export type {
  ChatMessageView,
  ClientFrame,
  FrameLimits,
  FrameType,
  HistoryFrame,
  InviteFrame,
  JoinFrame,
  LeaveFrame,
  PingFrame,
  ReceivedFrame,
  RequestFrame,
  SendFrame,
  ServerFrame,
} from './frames';
export {
  CLIENT_MSG_ID_PATTERN,
  IdRules,
  MESSAGE_ID_PATTERN,
  NODE_ID_PATTERN,
  SESSION_ID_PATTERN,
  SHARD_ID_PATTERN,
  USER_ID_PATTERN,
  isClientMsgId,
  isMessageId,
  isNodeId,
  isSessionId,
  isShardId,
  isUserId,
  textProblem,
} from './ids';
export type { TextProblem } from './ids';
export {
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  DEV_AUTH_SECRET,
  JwtError,
  MIN_AUTH_SECRET_LENGTH,
  TokenError,
  decodeHs256Jwt,
  signHs256Jwt,
  signToken,
  userTokenSecret,
  verifyToken,
} from './tokens';
export type { Identity, TokenRules } from './tokens';
