/**
 * Identifier rules shared by every process. Session ids become NATS subject tokens and Redis
 * keys, so they hold no dots or wildcards; user ids may look like e-mail addresses.
 */

/** 1-128 letters, digits, `_` or `-`. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** 1-128 letters, digits, `_`, `.`, `@` or `-`. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.@-]{1,128}$/;
/** 1-64 letters, digits, `.`, `_`, `:` or `-` (a UUID fits). */
export const CLIENT_MSG_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
/** Message ids: the UUID logic gives every message (lower or upper case hex). */
export const MESSAGE_ID_PATTERN =
  /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
/** Journal node ids: 1-64 letters, digits, `_` or `-`. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Shard ids: 1-64 letters, digits, `_` or `-`. */
export const SHARD_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** What each rule allows, in words, for error messages. */
export const IdRules = {
  session: '1-128 letters, digits, _ or -',
  user: '1-128 letters, digits, _ . @ or -',
  clientMsgId: '1-64 letters, digits, . _ : or -',
  message: 'a UUID such as 0b5c9f0e-3f55-4f4e-9d4f-5a0c2b1e8d77',
  node: '1-64 letters, digits, _ or -',
  shard: '1-64 letters, digits, _ or -',
} as const;

export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID_PATTERN.test(value);
}

export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID_PATTERN.test(value);
}

export function isClientMsgId(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_MSG_ID_PATTERN.test(value);
}

export function isMessageId(value: unknown): value is string {
  return typeof value === 'string' && MESSAGE_ID_PATTERN.test(value);
}

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID_PATTERN.test(value);
}

export function isShardId(value: unknown): value is string {
  return typeof value === 'string' && SHARD_ID_PATTERN.test(value);
}

// C0 controls and DEL, except tab (\u0009) and line feed (\u000A).
// eslint-disable-next-line no-control-regex
const FORBIDDEN_TEXT_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F]/;

/** Why a message text cannot be stored; `tooLarge` separates TOO_LARGE from INVALID_FRAME. */
export interface TextProblem {
  readonly tooLarge: boolean;
  readonly message: string;
}

/**
 * Checks a message text: not empty, at most `maxBytes` UTF-8 bytes, and no C0 control
 * character or DEL except newline and tab (a NUL would be refused by Postgres after the
 * journal had already stored it). Undefined when the text may be stored.
 */
export function textProblem(text: string, maxBytes: number): TextProblem | undefined {
  if (text.length === 0) return { tooLarge: false, message: '"text" must not be empty' };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    return { tooLarge: true, message: `"text" is ${bytes} bytes, over the ${maxBytes} byte limit` };
  }
  if (FORBIDDEN_TEXT_CHARS.test(text)) {
    return {
      tooLarge: false,
      message: '"text" must not contain control characters other than newline and tab',
    };
  }
  return undefined;
}
