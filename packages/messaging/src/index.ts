export { connectNats, ensureStream, natsReady, openChatStream } from './stream';
export type { StreamSettings } from './stream';
export { AckPolicy, DeliverPolicy, headers, nanos } from 'nats';
export type { Consumer, JetStreamClient, JsMsg, MsgHdrs, NatsConnection } from 'nats';
