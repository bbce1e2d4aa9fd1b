import type { FrameError } from '../src';
import { parseFrame } from '../src';

const limits = { maxTextBytes: 10, maxHistoryLimit: 100 };

function refused(value: unknown): FrameError {
  try {
    parseFrame(value, limits);
  } catch (err) {
    return err as FrameError;
  }
  throw new Error('frame was accepted');
}

describe('parseFrame', () => {
  it('reads each client frame type of protocol v1', () => {
    expect(parseFrame({ type: 'join', id: '1', session: 's' }, limits)).toMatchObject({
      type: 'join',
      session: 's',
      debug: false,
    });
    expect(
      parseFrame({ type: 'send', id: '2', session: 's', text: 'hi', debug: true }, limits),
    ).toMatchObject({ text: 'hi', debug: true });
    expect(
      parseFrame({ type: 'history', id: '3', session: 's', after_seq: 4, limit: 5 }, limits),
    ).toMatchObject({ afterSeq: 4, limit: 5 });
    expect(parseFrame({ type: 'history', id: '3', session: 's' }, limits)).toMatchObject({
      afterSeq: 0,
      limit: 50,
    });
    expect(parseFrame({ type: 'ping', id: '4' }, limits)).toMatchObject({ type: 'ping' });
    expect(parseFrame({ type: 'join', id: '5', session: 's', public: true }, limits)).toMatchObject(
      { public: true },
    );
    expect(
      parseFrame({ type: 'invite', id: '6', session: 's', user: 'bob@example.org' }, limits),
    ).toMatchObject({ type: 'invite', user: 'bob@example.org' });
    expect(
      parseFrame(
        { type: 'send', id: '7', session: 's', text: 'a\tb\nc', client_msg_id: '2f1c:9.a_b-c' },
        limits,
      ),
    ).toMatchObject({ clientMsgId: '2f1c:9.a_b-c' });
    expect(
      parseFrame({ type: 'send', id: '8', session: 's', text: 'hi' }, limits),
    ).not.toHaveProperty('clientMsgId');
    expect(
      parseFrame({ type: 'received', message_id: 'm', traceparent: 'x' }, limits),
    ).toMatchObject({ type: 'received', messageId: 'm' });
  });

  it('counts the text limit in UTF-8 bytes', () => {
    expect(refused({ type: 'send', id: 'a', session: 's', text: 'ééééééé' })).toMatchObject({
      code: 'TOO_LARGE',
      frameId: 'a',
    });
    expect(parseFrame({ type: 'send', id: 'a', session: 's', text: 'éééé' }, limits)).toMatchObject(
      { type: 'send' },
    );
  });

  it.each([
    [null, null],
    [[], null],
    [{ type: 1, id: 'x' }, 'x'],
    [{ type: 'join', id: 'x' }, 'x'],
    [{ type: 'history', id: 'x', session: 's', limit: 0 }, 'x'],
    [{ type: 'history', id: 'x', session: 's', limit: 101 }, 'x'],
    [{ type: 'history', id: 'x', session: 's', after_seq: 1.5 }, 'x'],
    [{ type: 'send', id: 'x', session: 's', text: '' }, 'x'],
    [{ type: 'received' }, null],
    [{ type: 'send', id: 'x', session: 's', text: 'a\u0000b' }, 'x'],
    [{ type: 'send', id: 'x', session: 's', text: 'bell\u0007' }, 'x'],
    [{ type: 'send', id: 'x', session: 's', text: 'hi', client_msg_id: '' }, 'x'],
    [{ type: 'send', id: 'x', session: 's', text: 'hi', client_msg_id: 'has space' }, 'x'],
    [{ type: 'send', id: 'x', session: 's', text: 'hi', client_msg_id: 'a'.repeat(65) }, 'x'],
    [{ type: 'join', id: 'x', session: 's', public: 'yes' }, 'x'],
    [{ type: 'invite', id: 'x', session: 's' }, 'x'],
    [{ type: 'invite', id: 'x', session: 's', user: 'no spaces' }, 'x'],
  ])('refuses %j with INVALID_FRAME and the id it could read', (value, id) => {
    expect(refused(value)).toMatchObject({ code: 'INVALID_FRAME', frameId: id });
  });
});
