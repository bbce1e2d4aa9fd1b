/**
 * The names every trace, dashboard and alert depends on: spans, attributes and metrics. Services
 * use these constants, never string literals; docs/tracing.md lists the same names and a test
 * keeps the two equal. Attribute names follow the OpenTelemetry semantic conventions where one
 * exists (`db.*`, `messaging.*`, `rpc.*`); domain ones are `chat.*`.
 */

export const SpanName = {
  // gateway: connections and frames
  GATEWAY_WS_CONNECT: 'gateway.ws.connect',
  GATEWAY_AUTH_AUTHENTICATE: 'gateway.auth.authenticate',
  GATEWAY_WS_DISCONNECT: 'gateway.ws.disconnect',
  GATEWAY_WS_ON_MESSAGE: 'gateway.ws.on_message',
  GATEWAY_WS_SEND_RESPONSE: 'gateway.ws.send_response',
  GATEWAY_SESSION_JOIN: 'gateway.session.join',
  GATEWAY_SESSION_INVITE: 'gateway.session.invite',
  GATEWAY_SESSION_LEAVE: 'gateway.session.leave',
  GATEWAY_GRPC_SEND_MESSAGE: 'gateway.grpc.send_message',
  GATEWAY_GRPC_HISTORY: 'gateway.grpc.history',
  // gateway: pushes from task
  GATEWAY_PUSH_DELIVER: 'gateway.push.deliver',
  GATEWAY_WS_PUSH: 'gateway.ws.push',
  GATEWAY_WS_DELIVERY_ACK: 'gateway.ws.delivery_ack',
  // gateway: the MQTT 5 front door
  GATEWAY_MQTT_CONNECT: 'gateway.mqtt.connect',
  GATEWAY_MQTT_DISCONNECT: 'gateway.mqtt.disconnect',
  GATEWAY_MQTT_SUBSCRIBE: 'gateway.mqtt.subscribe',
  GATEWAY_MQTT_UNSUBSCRIBE: 'gateway.mqtt.unsubscribe',
  GATEWAY_MQTT_PUBLISH: 'gateway.mqtt.publish',
  GATEWAY_MQTT_PUBACK: 'gateway.mqtt.puback',
  GATEWAY_MQTT_PING: 'gateway.mqtt.ping',
  GATEWAY_MQTT_PUSH: 'gateway.mqtt.push',
  GATEWAY_MQTT_DELIVERY_ACK: 'gateway.mqtt.delivery_ack',
  // logic
  LOGIC_CHAT_SEND_MESSAGE: 'logic.chat.send_message',
  LOGIC_CHAT_JOIN_SESSION: 'logic.chat.join_session',
  LOGIC_CHAT_INVITE_MEMBER: 'logic.chat.invite_member',
  LOGIC_CHAT_LEAVE_SESSION: 'logic.chat.leave_session',
  LOGIC_CHAT_HISTORY: 'logic.chat.history',
  LOGIC_CHAT_LIST_MEMBERS: 'logic.chat.list_members',
  LOGIC_CHAT_GET_MESSAGE: 'logic.chat.get_message',
  LOGIC_AUTH_AUTHORIZE: 'logic.auth.authorize',
  LOGIC_PLACEMENT_LOOKUP_SHARD: 'logic.placement.lookup_shard',
  LOGIC_JOURNAL_APPEND: 'logic.journal.append',
  LOGIC_DB_HISTORY: 'logic.db.history',
  // placement
  PLACEMENT_METADATA_QUERY: 'placement.metadata.query',
  PLACEMENT_CLUSTER_ROUTE: 'placement.cluster.route',
  PLACEMENT_SHARD_CREATE: 'placement.shard.create',
  // journal
  JOURNAL_WRITE: 'journal.write',
  JOURNAL_SEGMENT_APPEND: 'journal.segment.append',
  JOURNAL_INDEX_UPDATE: 'journal.index.update',
  JOURNAL_SEGMENT_FSYNC: 'journal.segment.fsync',
  JOURNAL_READ: 'journal.read',
  JOURNAL_APPEND_MESSAGE: 'journal.append_message',
  JOURNAL_DB_SAVE_MESSAGE: 'journal.db.save_message',
  JOURNAL_MQ_PUBLISH: 'journal.mq.publish',
  // task
  TASK_MQ_CONSUME: 'task.mq.consume',
  TASK_ROUTE_RESOLVE: 'task.route.resolve',
  TASK_PUSH_GATEWAY: 'task.push.gateway',
  // the browser (apps/web), exported through the gateway's OTLP endpoint
  WEB_CHAT_SEND: 'web.chat.send',
  WEB_CHAT_RENDER: 'web.chat.render',
} as const;
export type SpanName = (typeof SpanName)[keyof typeof SpanName];

export const Attr = {
  // who and what
  USER_ID: 'chat.user.id',
  SESSION_ID: 'chat.session.id',
  SESSION_PUBLIC: 'chat.session.public',
  INVITEE_ID: 'chat.invitee.id',
  MESSAGE_ID: 'chat.message.id',
  MESSAGE_SEQ: 'chat.message.seq',
  MESSAGE_SIZE: 'chat.message.size',
  MESSAGE_COUNT: 'chat.message.count',
  DUPLICATE: 'chat.duplicate',
  DEBUG: 'chat.debug',
  /** The sampling event kind of a span that may start a trace (see SamplingEvent). */
  EVENT: 'chat.event',
  // connections and frames
  GATEWAY_ID: 'chat.gateway.id',
  GATEWAY_COUNT: 'chat.gateway.count',
  CONNECTION_ID: 'chat.connection.id',
  CONNECTION_COUNT: 'chat.connection.count',
  CONNECTION_DURATION_MS: 'chat.connection.duration_ms',
  FRAME_TYPE: 'chat.frame.type',
  FRAME_SIZE: 'chat.frame.size',
  FRAME_WRITTEN: 'chat.frame.written',
  WEBSOCKET_CLOSE_CODE: 'websocket.close.code',
  // MQTT
  NETWORK_PROTOCOL_NAME: 'network.protocol.name',
  NETWORK_TRANSPORT: 'network.transport',
  MQTT_CLIENT_ID: 'mqtt.client_id',
  MQTT_REASON_CODE: 'mqtt.reason_code',
  MQTT_TOPIC_COUNT: 'mqtt.topic.count',
  MESSAGING_MQTT_QOS: 'messaging.mqtt.qos',
  MESSAGING_MQTT_PACKET_ID: 'messaging.mqtt.packet_id',
  // routing
  MEMBER_COUNT: 'chat.member.count',
  RECIPIENT_COUNT: 'chat.recipient.count',
  USER_COUNT: 'chat.user.count',
  ROUTE_SHARED: 'chat.route.shared',
  // placement and journal
  SHARD_ID: 'chat.shard.id',
  SHARD_CREATED: 'chat.shard.created',
  CACHE_HIT: 'chat.cache.hit',
  /** Which quota refused a join or an invite (see logic's `Quota`). */
  QUOTA: 'chat.quota',
  JOURNAL_NODE_ID: 'chat.journal.node.id',
  JOURNAL_NODE_UP: 'chat.journal.node.up',
  JOURNAL_OFFSET: 'chat.journal.offset',
  RECORD_SIZE: 'chat.record.size',
  JOURNAL_APPEND_RECORDS: 'journal.append.records',
  JOURNAL_APPEND_BYTES: 'journal.append.bytes',
  JOURNAL_OFFSET_FIRST: 'journal.offset.first',
  JOURNAL_OFFSET_LAST: 'journal.offset.last',
  JOURNAL_BATCH_SIZE: 'journal.batch.size',
  JOURNAL_BATCH_APPENDS: 'journal.batch.appends',
  JOURNAL_BATCH_BYTES: 'journal.batch.bytes',
  JOURNAL_SEGMENT_BASE_OFFSET: 'journal.segment.base_offset',
  JOURNAL_INDEX_ENTRIES_ADDED: 'journal.index.entries_added',
  JOURNAL_READ_FROM_OFFSET: 'journal.read.from_offset',
  JOURNAL_READ_RECORD_COUNT: 'journal.read.record_count',
  JOURNAL_READ_BYTES: 'journal.read.bytes',
  // semantic conventions
  DB_SYSTEM_NAME: 'db.system.name',
  DB_COLLECTION_NAME: 'db.collection.name',
  DB_OPERATION_NAME: 'db.operation.name',
  DB_ROWS: 'db.rows',
  MESSAGING_SYSTEM: 'messaging.system',
  MESSAGING_DESTINATION_NAME: 'messaging.destination.name',
  MESSAGING_OPERATION_NAME: 'messaging.operation.name',
  MESSAGING_OPERATION_TYPE: 'messaging.operation.type',
  MESSAGING_MESSAGE_ID: 'messaging.message.id',
  MESSAGING_MESSAGE_BODY_SIZE: 'messaging.message.body.size',
  MESSAGING_CONSUMER_GROUP_NAME: 'messaging.consumer.group.name',
  MESSAGING_NATS_STREAM: 'messaging.nats.stream',
  MESSAGING_NATS_STREAM_SEQUENCE: 'messaging.nats.stream.sequence',
  MESSAGING_NATS_DELIVERY_COUNT: 'messaging.nats.delivery.count',
  MESSAGING_NATS_DUPLICATE: 'messaging.nats.duplicate',
  RPC_SYSTEM: 'rpc.system',
  RPC_SERVICE: 'rpc.service',
  RPC_METHOD: 'rpc.method',
  SERVER_ADDRESS: 'server.address',
  /** The failure's code or class name, on any span that failed. */
  ERROR_TYPE: 'error.type',
  /** The signed-in user whose browser sent a span (a resource attribute the gateway sets). */
  ENDUSER_ID: 'enduser.id',
} as const;
export type Attr = (typeof Attr)[keyof typeof Attr];

/** Metric names as recorded through OpenTelemetry (Prometheus shows `.` as `_`). */
export const MetricName = {
  MESSAGES_SENT: 'tracechat.messages.sent',
  MESSAGES_PUSHED: 'tracechat.messages.pushed',
  MESSAGES_DELIVERED: 'tracechat.messages.delivered',
  MESSAGE_DELIVERY_LATENCY: 'tracechat.message.delivery.latency',
  GATEWAY_CONNECTIONS: 'tracechat.gateway.connections',
  /** Upgrades the gateway refused, by `reason` (a limit's name, `origin`). */
  GATEWAY_CONNECTIONS_REFUSED: 'tracechat.gateway.connections.refused',
  /** Connections the gateway closed on its own, by `reason` (`send_buffer_full`, `token_expired`). */
  GATEWAY_CONNECTIONS_CLOSED: 'tracechat.gateway.connections.closed',
  /** Pushes to MQTT clients dropped, by `reason` (`packet_too_large`, `receive_maximum`). */
  GATEWAY_MQTT_PUSHES_DROPPED: 'tracechat.gateway.mqtt.pushes.dropped',
  /** Browser spans the gateway's OTLP endpoint forwarded or refused, by `outcome` and `reason`. */
  GATEWAY_WEB_SPANS: 'tracechat.gateway.web.spans',
  TASK_MESSAGES_ROUTED: 'tracechat.task.messages.routed',
  TASK_MESSAGES_DEAD_LETTERED: 'tracechat.task.messages.dead_lettered',
  JOURNAL_APPENDS: 'tracechat.journal.appends',
  JOURNAL_RECORDS: 'tracechat.journal.records',
  JOURNAL_FSYNCS: 'tracechat.journal.fsyncs',
  JOURNAL_SHARDS: 'tracechat.journal.shards',
  LOGIC_QUOTA_REFUSALS: 'tracechat.logic.quota.refusals',
  NATS_STREAM_BYTES: 'tracechat.nats.stream.bytes',
  NATS_STREAM_MAX_BYTES: 'tracechat.nats.stream.max_bytes',
  TELEMETRY_SPANS_EXPORTED: 'tracechat.telemetry.spans.exported',
  TELEMETRY_SPANS_DROPPED: 'tracechat.telemetry.spans.dropped',
  RPC_UNAUTHENTICATED: 'tracechat.rpc.unauthenticated',
  RPC_PERMISSION_DENIED: 'tracechat.rpc.permission_denied',
  RPC_LIMIT_CLAMPED: 'tracechat.rpc.limit_clamped',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** Kinds of event the head sampler can switch off one by one (`chat.event`). */
export const SamplingEvent = {
  CONNECTION: 'connection',
  SESSION: 'session',
  MESSAGING: 'messaging',
  HEARTBEAT: 'heartbeat',
} as const;
export type SamplingEvent = (typeof SamplingEvent)[keyof typeof SamplingEvent];
