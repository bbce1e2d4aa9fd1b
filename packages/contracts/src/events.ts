/** The JetStream event published for every stored message (subject `<prefix>.<session>`), consumed by task. */
export interface MessageEvent {
  readonly messageId: string;
  readonly sessionId: string;
  readonly seq: number;
  readonly senderId: string;
  readonly text: string;
  readonly sentAtMs: number;
  readonly originGatewayId: string;
  readonly originConnectionId: string;
}

/** Subject of a session's messages: `<prefix>.<session>` (session ids never contain dots). */
export function messageSubject(prefix: string, sessionId: string): string {
  return `${prefix}.${sessionId}`;
}

export function encodeMessageEvent(event: MessageEvent): Uint8Array {
  return Buffer.from(JSON.stringify({ v: 1, ...event }));
}

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
  readonly code = 'BAD_EVENT';
}

/** Parses and checks an event; throws EventDecodeError for anything malformed. */
export function decodeMessageEvent(data: Uint8Array): MessageEvent {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new EventDecodeError('event is not JSON', { cause: err });
  }
  if (typeof raw !== 'object' || raw === null || raw.v !== 1) {
    throw new EventDecodeError('event has no known version');
  }
  const strings = [
    'messageId',
    'sessionId',
    'senderId',
    'text',
    'originGatewayId',
    'originConnectionId',
  ];
  for (const key of strings) {
    if (typeof raw[key] !== 'string')
      throw new EventDecodeError(`event field ${key} is not a string`);
  }
  for (const key of ['seq', 'sentAtMs']) {
    if (typeof raw[key] !== 'number' || !Number.isSafeInteger(raw[key])) {
      throw new EventDecodeError(`event field ${key} is not an integer`);
    }
  }
  return {
    messageId: raw.messageId as string,
    sessionId: raw.sessionId as string,
    seq: raw.seq as number,
    senderId: raw.senderId as string,
    text: raw.text as string,
    sentAtMs: raw.sentAtMs as number,
    originGatewayId: raw.originGatewayId as string,
    originConnectionId: raw.originConnectionId as string,
  };
}
