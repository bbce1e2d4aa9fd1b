import { RetentionPolicy, StorageType, connect, nanos } from 'nats';
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
}

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

/** Creates the chat stream, or updates its settings; safe to call from every instance. */
export async function ensureStream(jsm: JetStreamManager, settings: StreamSettings): Promise<void> {
  const config: Partial<StreamConfig> = {
    name: settings.stream,
    subjects: [`${settings.subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(settings.duplicateWindowMs ?? 120_000),
    max_age: nanos(settings.maxAgeMs ?? 7 * 24 * 3600 * 1000),
  };
  try {
    await jsm.streams.info(settings.stream);
    await jsm.streams.update(settings.stream, config);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // another instance created it in between
      if (!/already in use/i.test((addErr as Error).message)) throw addErr;
    }
  }
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
