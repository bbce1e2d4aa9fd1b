import { DiscardPolicy, RetentionPolicy, StorageType, connect, nanos } from 'nats';
import type { JetStreamManager, NatsConnection, StreamConfig } from 'nats';

export interface StreamSettings {
  /** Stream name, e.g. CHAT. */
  readonly stream: string;
  /** Subject prefix; the stream holds `<prefix>.>`. */
  readonly subjectPrefix: string;
  /** How long JetStream remembers a Nats-Msg-Id to drop a republished message. */
  readonly duplicateWindowMs?: number;
  /** How long messages are kept (task acks them within seconds; this bounds a long outage). */
  readonly maxAgeMs?: number;
  /** Bytes the stream may hold; past it the oldest messages are dropped. */
  readonly maxBytes?: number;
}

/** The stream's limits when a service does not set them (see sharedEnv's natsStreamLimits). */
export const DEFAULT_STREAM_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_STREAM_MAX_BYTES = 1024 ** 3;

/** Connects with reconnects forever; `name` shows up in the server's connection list. */
export function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: url,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 5000,
    // no stack trace captured per request (every JetStream publish is one): it cost the journal
    // about 5 % of its CPU at 500 msg/s, and our spans and logs already say where a call began
    noAsyncTraces: true,
  });
}

/**
 * Creates the chat stream, or updates an existing one whose settings differ; safe to call from
 * every instance. The stream is bounded by age and by bytes and discards its oldest messages
 * past either: Postgres holds the history and the journal the truth, so a message dropped here
 * before task pushed it is still in `history` (a client fills the gap from there).
 */
export async function ensureStream(jsm: JetStreamManager, settings: StreamSettings): Promise<void> {
  const config = {
    name: settings.stream,
    subjects: [`${settings.subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(settings.duplicateWindowMs ?? 120_000),
    max_age: nanos(settings.maxAgeMs ?? DEFAULT_STREAM_MAX_AGE_MS),
    max_bytes: settings.maxBytes ?? DEFAULT_STREAM_MAX_BYTES,
  } satisfies Partial<StreamConfig>;
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(settings.stream)).config;
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    try {
      await jsm.streams.add(config);
      return;
    } catch (addErr) {
      // another instance created it in between
      if (!/already in use/i.test((addErr as Error).message)) throw addErr;
      current = (await jsm.streams.info(settings.stream)).config;
    }
  }
  const differs =
    current.subjects.join(',') !== config.subjects.join(',') ||
    current.discard !== config.discard ||
    current.duplicate_window !== config.duplicate_window ||
    current.max_age !== config.max_age ||
    current.max_bytes !== config.max_bytes;
  if (differs) await jsm.streams.update(settings.stream, { ...current, ...config });
}

/** How full a stream is: what it holds against its `max_bytes` limit (-1: none). */
export interface StreamUsage {
  readonly bytes: number;
  readonly messages: number;
  readonly maxBytes: number;
}

export async function streamUsage(jsm: JetStreamManager, stream: string): Promise<StreamUsage> {
  const info = await jsm.streams.info(stream);
  return {
    bytes: info.state.bytes,
    messages: info.state.messages,
    maxBytes: info.config.max_bytes,
  };
}

/** Connects and makes sure the chat stream exists: what every producer and consumer does first. */
export async function openChatStream(
  url: string,
  name: string,
  settings: StreamSettings,
): Promise<NatsConnection> {
  const nats = await connectNats(url, name);
  await ensureStream(await nats.jetstreamManager(), settings);
  return nats;
}

/** Readiness check: resolves once the server answers a round trip on this connection. */
export async function natsReady(nats: NatsConnection): Promise<void> {
  if (nats.isClosed()) throw new Error('closed');
  await nats.flush();
}
