import { ConnectionSlots, KeyedRateLimiter, remoteAddress } from '../src/limits';
import { ExpiryWheel } from '../src/expiry';

describe('ConnectionSlots', () => {
  it('refuses past the total limit and reuses a released slot', () => {
    const slots = new ConnectionSlots({ total: 2, perUser: 10, perAddress: 10 });
    const first = slots.acquire('alice', '10.0.0.1') as () => void;
    expect(typeof slots.acquire('bob', '10.0.0.2')).toBe('function');
    expect(slots.acquire('carol', '10.0.0.3')).toBe('connections_total');
    first();
    first(); // a second release is a no-op
    expect(slots.size).toBe(1);
    expect(typeof slots.acquire('carol', '10.0.0.3')).toBe('function');
    expect(slots.acquire('dave', '10.0.0.4')).toBe('connections_total');
  });

  it('refuses past the per-user and per-address limits, each on its own', () => {
    const slots = new ConnectionSlots({ total: 100, perUser: 2, perAddress: 3 });
    const a1 = slots.acquire('alice', '10.0.0.1') as () => void;
    slots.acquire('alice', '10.0.0.2');
    expect(slots.acquire('alice', '10.0.0.3')).toBe('connections_per_user');
    slots.acquire('bob', '10.0.0.1');
    slots.acquire('carol', '10.0.0.1');
    expect(slots.acquire('dave', '10.0.0.1')).toBe('connections_per_address');
    expect(typeof slots.acquire('dave', '10.0.0.9')).toBe('function');
    a1();
    expect(typeof slots.acquire('alice', '10.0.0.1')).toBe('function');
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4', () => {
    expect(remoteAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(remoteAddress('::1')).toBe('::1');
    expect(remoteAddress(undefined)).toBe('unknown');
  });
});

describe('ExpiryWheel', () => {
  it('expires each item within a second after its time, and not a removed one', () => {
    const expired: string[] = [];
    const wheel = new ExpiryWheel<string>((item) => expired.push(item));
    const now = Date.now();
    wheel.add('a', now + 1500);
    wheel.add('b', now + 3000);
    wheel.add('c', now + 1500);
    wheel.remove('c');
    wheel.tick(now + 1000);
    expect(expired).toEqual([]);
    wheel.tick(now + 2600);
    expect(expired).toEqual(['a']);
    wheel.tick(now + 10 * 24 * 3600 * 1000); // a long stall
    expect(expired).toEqual(['a', 'b']);
    expect(wheel.size).toBe(0);
    wheel.stop();
  });

  it('expires an item already due at the next tick', () => {
    const expired: string[] = [];
    const wheel = new ExpiryWheel<string>((item) => expired.push(item));
    wheel.add('late', Date.now() - 5000);
    wheel.tick(Date.now() + 1000);
    expect(expired).toEqual(['late']);
    wheel.stop();
  });
});

describe('KeyedRateLimiter', () => {
  it('keeps a bucket per key, takes a cost at once or nothing, and refills over time', () => {
    const limiter = new KeyedRateLimiter(10, 20);
    expect(limiter.take('alice', 15, 0)).toBe(true);
    expect(limiter.take('alice', 10, 0)).toBe(false); // 5 left: nothing taken
    expect(limiter.take('alice', 5, 0)).toBe(true);
    expect(limiter.allows('alice', 0)).toBe(false);
    expect(limiter.allows('bob', 0)).toBe(true);
    expect(limiter.take('bob', 20, 0)).toBe(true);
    expect(limiter.allows('alice', 100)).toBe(true); // a tenth of a second: one token back
    expect(limiter.take('alice', 10, 1000)).toBe(true);
  });

  it('forgets the longest unused key past its bound, which starts full again', () => {
    const limiter = new KeyedRateLimiter(1, 1, 2);
    expect(limiter.take('a', 1, 0)).toBe(true);
    expect(limiter.take('b', 1, 0)).toBe(true);
    expect(limiter.take('c', 1, 0)).toBe(true); // 'a' is forgotten
    expect(limiter.take('b', 1, 0)).toBe(false);
    expect(limiter.take('a', 1, 0)).toBe(true);
  });
});
