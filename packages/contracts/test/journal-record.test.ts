import { RecordDecodeError, decodeRecordData, encodeMessageRecord } from '../src';
import type { MessageRecord } from '../src';

const record: MessageRecord = {
  messageId: 'm-1',
  sessionId: 's',
  seq: 7,
  senderId: 'alice',
  text: 'hi',
  sentAtMs: 1_700_000_000_000,
  clientMsgId: 'k',
  originGatewayId: 'gateway-1',
  originConnectionId: 'c1',
  traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01',
};

describe('the journal message record', () => {
  it('decodes what it encodes, optional fields included or not', () => {
    expect(decodeRecordData(encodeMessageRecord(record))).toEqual({ kind: 'message', message: record });
    const bare: MessageRecord = { ...record, clientMsgId: undefined, traceparent: undefined };
    expect(decodeRecordData(encodeMessageRecord(bare))).toEqual({
      kind: 'message',
      message: { ...bare, clientMsgId: undefined, traceparent: undefined, tracestate: undefined },
    });
  });

  it('recognises a message written before the journal assigned seqs, and anything else as other', () => {
    const legacy = { messageId: 'm', senderId: 'a', clientMsgId: 'k', text: 't', sentAtMs: 1 };
    expect(decodeRecordData(Buffer.from(JSON.stringify(legacy)))).toEqual({ kind: 'legacy', ...legacy });
    expect(decodeRecordData(Buffer.from('not json'))).toEqual({ kind: 'other' });
    expect(decodeRecordData(Buffer.from('{"v":2}'))).toEqual({ kind: 'other' });
  });

  it('refuses a version-1 message with a malformed field', () => {
    const bad = Buffer.from(JSON.stringify({ v: 1, kind: 'message', ...record, seq: 'seven' }));
    expect(() => decodeRecordData(bad)).toThrow(RecordDecodeError);
  });
});
