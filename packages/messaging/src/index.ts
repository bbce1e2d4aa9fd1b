export {
  DEFAULT_STREAM_MAX_AGE_MS,
  DEFAULT_STREAM_MAX_BYTES,
  connectNats,
  ensureStream,
  natsReady,
  openChatStream,
  streamUsage,
} from './stream';
export type { StreamSettings, StreamUsage } from './stream';
export { AckPolicy, DeliverPolicy, headers, nanos } from 'nats';
export type { Consumer, JetStreamClient, JsMsg, MsgHdrs, NatsConnection } from 'nats';
