import { generate } from 'mqtt-packet';
import type { Packet, UserProperties } from 'mqtt-packet';
import { isSessionId } from '@tracechat/contracts';

/** The one topic family: `chat/<session>`, where `<session>` follows the session id rule. */
const TOPIC_PREFIX = 'chat/';

/** The session of a `chat/<session>` topic; undefined for any other topic. */
export function sessionOfTopic(topic: string): string | undefined {
  if (!topic.startsWith(TOPIC_PREFIX)) return undefined;
  const session = topic.slice(TOPIC_PREFIX.length);
  return isSessionId(session) ? session : undefined;
}

export function topicOfSession(session: string): string {
  return TOPIC_PREFIX + session;
}

/** The first value of a user property, or undefined. */
export function userProperty(
  properties: { userProperties?: UserProperties } | undefined,
  name: string,
): string | undefined {
  const value = properties?.userProperties?.[name];
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** The trace context carried as `traceparent`/`tracestate` user properties. */
export function carrierOf(properties: { userProperties?: UserProperties } | undefined): {
  traceparent?: string;
  tracestate?: string;
} {
  return {
    traceparent: userProperty(properties, 'traceparent'),
    tracestate: userProperty(properties, 'tracestate'),
  };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 strictly; undefined for bytes that are not UTF-8. */
export function utf8(bytes: Buffer | string): string | undefined {
  if (typeof bytes === 'string') return bytes;
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Encodes an MQTT 5 packet. */
export function encode(packet: Packet): Buffer {
  return generate(packet, { protocolVersion: 5 });
}

/** What the fixed header of the bytes at hand says. */
export type Frame =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'packet'; readonly size: number; readonly type: number };

/**
 * Reads the fixed header at the start of `bytes`: the packet's type and total size (header
 * included), 'incomplete' when more bytes are needed to know, 'malformed' for a Remaining Length
 * longer than four bytes.
 */
export function readFrame(bytes: Buffer): Frame {
  if (bytes.length < 2) return { kind: 'incomplete' };
  let length = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    if (i >= bytes.length) return { kind: 'incomplete' };
    const byte = bytes[i]!;
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { kind: 'packet', size: i + 1 + length, type: bytes[0]! >> 4 };
    multiplier *= 128;
  }
  return { kind: 'malformed' };
}

/** Packet type numbers of the fixed header. */
export const PacketType = { CONNECT: 1 } as const;
