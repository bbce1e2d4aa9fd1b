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

  it('reads the recipient of a render from its process (the gateway sets enduser.id there)', () => {
    const trace = {
      spans: [{ operationName: 'web.chat.render', processID: 'p2', tags: [] }],
      processes: { p2: { serviceName: 'web', tags: [{ key: 'enduser.id', value: 'bob' }] } },
    };
    expect(deliveredToOther(trace, 'alice')).toBe(true);
    expect(deliveredToOther(trace, 'bob')).toBe(false);
  });
});
