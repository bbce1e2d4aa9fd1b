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
  return messageEventFields(raw, (message) => new EventDecodeError(`event ${message}`));
}

const STRING_FIELDS = [
  'messageId',
  'sessionId',
  'senderId',
  'text',
  'originGatewayId',
  'originConnectionId',
] as const;

/**
 * The MessageEvent fields of a parsed object (an event, or the journal record that extends it);
 * throws `fail("field <name> is …")` for the first missing or mistyped one.
 */
export function messageEventFields(
  raw: Record<string, unknown>,
  fail: (message: string) => Error,
): MessageEvent {
  for (const key of STRING_FIELDS) {
    if (typeof raw[key] !== 'string') throw fail(`field ${key} is not a string`);
  }
  for (const key of ['seq', 'sentAtMs']) {
    if (!Number.isSafeInteger(raw[key])) throw fail(`field ${key} is not an integer`);
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
