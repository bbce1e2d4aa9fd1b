import { Status } from '@tracechat/protos';
import { ChatError } from '../src';
import { toRpcError } from '../src/errors';
import {
  checkClientMsgId,
  checkMessageId,
  checkSessionId,
  checkText,
  checkUserId,
} from '../src/validate';

describe('input checks', () => {
  it('accepts well-formed ids and text', () => {
    expect(checkSessionId('room_1-a')).toBe('room_1-a');
    expect(checkUserId('alice@example.com')).toBe('alice@example.com');
    expect(checkClientMsgId('x'.repeat(64))).toHaveLength(64);
    expect(checkText('héllo', 10)).toBe(6);
    expect(checkText('two\nlines\tand a tab', 100)).toBe(19);
    expect(checkClientMsgId('')).toBeUndefined(); // no key: always a new message
    expect(checkMessageId('0b5c9f0e-3f55-4f4e-9d4f-5a0c2b1e8d77')).toBe(
      '0b5c9f0e-3f55-4f4e-9d4f-5a0c2b1e8d77',
    );
    expect(checkMessageId('0B5C9F0E-3F55-4F4E-9D4F-5A0C2B1E8D77')).toHaveLength(36);
  });

  it.each([
    () => checkSessionId('has.dot'),
    () => checkSessionId(''),
    () => checkUserId('spaces are bad'),
    () => checkClientMsgId('has space'),
    () => checkText('nul\u0000inside', 100),
    () => checkText('escape\u001b[31m', 100),
    () => checkClientMsgId('x'.repeat(65)),
    () => checkText('', 10),
    () => checkText('x'.repeat(11), 10),
    () => checkMessageId(''),
    () => checkMessageId('not-a-uuid'),
    () => checkMessageId("0b5c9f0e-3f55-4f4e-9d4f-5a0c2b1e8d77' OR 1=1"),
    () => checkMessageId('0b5c9f0e3f554f4e9d4f5a0c2b1e8d77'),
  ])('refuses malformed input with INVALID_ARGUMENT (%#)', (check) => {
    expect(check).toThrow(ChatError);
    try {
      check();
    } catch (err) {
      expect((err as ChatError).code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('toRpcError', () => {
  it.each([
    ['INVALID_ARGUMENT', Status.INVALID_ARGUMENT],
    ['FORBIDDEN', Status.PERMISSION_DENIED],
    ['NOT_FOUND', Status.NOT_FOUND],
    ['CONFLICT', Status.ALREADY_EXISTS],
    ['UNAVAILABLE', Status.UNAVAILABLE],
  ] as const)('maps %s to its gRPC status', (code, status) => {
    expect(toRpcError(new ChatError(code, 'why'))).toMatchObject({ code: status, message: 'why' });
  });

  it('leaves unexpected errors alone so they stay internal', () => {
    const err = new Error('db down');
    expect(toRpcError(err)).toBe(err);
  });
});
