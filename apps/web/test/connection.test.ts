import { backoffDelay } from '../src/connection';

describe('backoffDelay', () => {
  const options = { baseMs: 500, maxMs: 10_000 };

  it('grows exponentially with jitter in the upper half, capped at the maximum', () => {
    expect(backoffDelay(1, options, () => 0)).toBe(250);
    expect(backoffDelay(1, options, () => 1)).toBe(500);
    expect(backoffDelay(3, options, () => 0.5)).toBe(1500);
    expect(backoffDelay(30, options, () => 1)).toBe(10_000);
    expect(backoffDelay(30, options, () => 0)).toBe(5000);
  });
});
