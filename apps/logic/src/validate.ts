import {
  IdRules,
  isClientMsgId,
  isMessageId,
  isSessionId,
  isUserId,
  textProblem,
} from '@tracechat/contracts';
import { ChatError } from './errors';

/** Requests are checked again here: logic trusts no caller's ids. */
export function checkSessionId(value: string): string {
  if (!isSessionId(value))
    throw new ChatError('INVALID_ARGUMENT', `session must be ${IdRules.session}`);
  return value;
}

export function checkUserId(value: string): string {
  if (!isUserId(value)) throw new ChatError('INVALID_ARGUMENT', `user id must be ${IdRules.user}`);
  return value;
}

/** A message id: the UUID logic gave the message (anything else cannot name one). */
export function checkMessageId(value: string): string {
  if (!isMessageId(value))
    throw new ChatError('INVALID_ARGUMENT', `message id must be ${IdRules.message}`);
  return value;
}

/** An optional idempotency key: empty means none. */
export function checkClientMsgId(value: string): string | undefined {
  if (value === '') return undefined;
  if (!isClientMsgId(value)) {
    throw new ChatError('INVALID_ARGUMENT', `client_msg_id must be ${IdRules.clientMsgId}`);
  }
  return value;
}

/** The text's size in UTF-8 bytes; INVALID_ARGUMENT when it may not be stored. */
export function checkText(value: string, maxBytes: number): number {
  const problem = textProblem(value, maxBytes);
  if (problem) throw new ChatError('INVALID_ARGUMENT', problem.message);
  return Buffer.byteLength(value, 'utf8');
}
