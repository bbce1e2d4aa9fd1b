import { Attr, MetricName, SpanName } from '../src';

describe('the catalog', () => {
  it.each([
    ['span', Object.values(SpanName)],
    ['attribute', Object.values(Attr)],
    ['metric', Object.values(MetricName)],
  ])('has each %s name once', (_kind, names) => {
    expect(new Set(names).size).toBe(names.length);
  });

  it('prefixes every span with the service that emits it', () => {
    for (const name of Object.values(SpanName)) {
      expect(name).toMatch(/^(gateway|logic|placement|journal|task|web)(\.[a-z_]+){1,2}$/);
    }
  });
});
