import { RateLimiter } from '../src/connection';

describe('RateLimiter', () => {
  it('allows a burst, then the steady rate', () => {
    const limiter = new RateLimiter(10, 3, 0);
    expect([limiter.take(0), limiter.take(0), limiter.take(0), limiter.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(limiter.take(50)).toBe(false);
    expect(limiter.take(100)).toBe(true);
    expect(limiter.take(10_000)).toBe(true);
  });
});
