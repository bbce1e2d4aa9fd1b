import { deliveredToOther } from '../src/chat';

const span = (operationName: string, key: string, value: string) => ({
  operationName,
  tags: [{ key, value }],
});

describe('deliveredToOther', () => {
  it('counts another user’s delivery ack or render, never the sender’s own', () => {
    expect(
      deliveredToOther(
        { spans: [span('gateway.ws.delivery_ack', 'chat.user.id', 'bob')] },
        'alice',
      ),
    ).toBe(true);
    expect(
      deliveredToOther({ spans: [span('web.chat.render', 'enduser.id', 'bob')] }, 'alice'),
    ).toBe(true);
    expect(
      deliveredToOther(
        { spans: [span('gateway.ws.delivery_ack', 'chat.user.id', 'alice')] },
        'alice',
      ),
    ).toBe(false);
    expect(
      deliveredToOther({ spans: [span('gateway.ws.push', 'chat.user.id', 'bob')] }, 'alice'),
    ).toBe(false);
    expect(deliveredToOther(undefined, 'alice')).toBe(false);
  });
});
