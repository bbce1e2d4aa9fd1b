import { ChatError } from './errors';

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const USER_ID = /^[A-Za-z0-9_.@-]{1,128}$/;

/** Session ids become NATS subject tokens and Redis keys: letters, digits, _ and - only. */
export function checkSessionId(value: string): string {
  if (!SESSION_ID.test(value)) {
    throw new ChatError('INVALID_ARGUMENT', 'session must be 1-128 letters, digits, _ or -');
  }
  return value;
}

export function checkUserId(value: string): string {
  if (!USER_ID.test(value)) throw new ChatError('INVALID_ARGUMENT', 'user id is malformed');
  return value;
}

export function checkClientMsgId(value: string): string {
  if (value.length < 1 || value.length > 64) {
    throw new ChatError('INVALID_ARGUMENT', 'id must be 1-64 characters');
  }
  return value;
}

export function checkText(value: string, maxBytes: number): number {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0) throw new ChatError('INVALID_ARGUMENT', 'text is empty');
  if (bytes > maxBytes) throw new ChatError('INVALID_ARGUMENT', `text is over ${maxBytes} bytes`);
  return bytes;
}
