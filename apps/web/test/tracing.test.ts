import { SpanName } from '@tracechat/contracts';
import { WebSpans, formatTraceparent, parseTraceparent } from '../src/tracing';

describe('traceparent', () => {
  it('round-trips a sampled context', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const ctx = parseTraceparent(tp)!;
    expect(ctx).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', isRemote: true });
    expect(formatTraceparent(ctx)).toBe(tp);
  });

  it('rejects malformed or all-zero values', () => {
    expect(parseTraceparent(undefined)).toBeNull();
    expect(parseTraceparent('00-xyz')).toBeNull();
    expect(parseTraceparent(`00-${'0'.repeat(32)}-b7ad6b7169203331-01`)).toBeNull();
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01')).toBeNull();
  });
});

describe('span names', () => {
  it('are the catalog’s', () => {
    expect(WebSpans.send).toBe(SpanName.WEB_CHAT_SEND);
    expect(WebSpans.render).toBe(SpanName.WEB_CHAT_RENDER);
  });
});
