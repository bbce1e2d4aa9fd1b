import { fnv1a32, shardOf } from '../src';

describe('shard key', () => {
  it('is FNV-1a 32 (the published test vectors)', () => {
    expect(fnv1a32(Buffer.from(''))).toBe(0x811c9dc5);
    expect(fnv1a32(Buffer.from('a'))).toBe(0xe40c292c);
    expect(fnv1a32(Buffer.from('foobar'))).toBe(0xbf9cf968);
  });

  it('maps a session to hash mod shard count, the same on every call', () => {
    expect(shardOf('foobar', 16)).toBe(0xbf9cf968 % 16);
    expect(shardOf('session-1', 16)).toBe(shardOf('session-1', 16));
    expect(shardOf('anything', 1)).toBe(0);
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[shardOf(`s-${i}`, 16)]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});
