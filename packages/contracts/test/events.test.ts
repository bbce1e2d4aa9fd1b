import { EventDecodeError, decodeMessageEvent, encodeMessageEvent, messageSubject } from '../src';

const event = {
  messageId: 'm1',
  sessionId: 'room',
  seq: 42,
  senderId: 'alice',
  text: 'héllo',
  sentAtMs: 1_700_000_000_000,
  originGatewayId: 'gateway-1',
  originConnectionId: 'c1',
};

describe('message events', () => {
  it('round-trip through their wire form', () => {
    expect(decodeMessageEvent(encodeMessageEvent(event))).toEqual(event);
    expect(messageSubject('chat.msg', 'room')).toBe('chat.msg.room');
  });

  it.each([
    ['not JSON', Buffer.from('{')],
    ['no version', Buffer.from(JSON.stringify(event))],
    ['a string seq', Buffer.from(JSON.stringify({ v: 1, ...event, seq: '42' }))],
    ['a missing sender', Buffer.from(JSON.stringify({ v: 1, ...event, senderId: undefined }))],
  ])('are refused when %s', (_label, data) => {
    expect(() => decodeMessageEvent(data)).toThrow(EventDecodeError);
  });
});
