import { EnvReader, redactUrl } from '../src';

describe('redactUrl', () => {
  it.each([
    ['postgres://bob:s3cret@db:5432/chat', 'postgres://bob:***@db:5432/chat'],
    ['redis://:s3cret@cache:6379', 'redis://:***@cache:6379'],
    ['rediss://default:s3cret@cache:6380/0', 'rediss://default:***@cache:6380/0'],
    // a user part alone may be a token (nats://TOKEN@host)
    ['nats://s3cret@nats:4222', 'nats://***@nats:4222'],
    // an unencoded "@" in the password: the host starts after the last one
    ['postgres://bob:s3c@ret@db/chat', 'postgres://bob:***@db/chat'],
  ])('hides the credentials of %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
    expect(redactUrl(url)).not.toContain('s3c');
  });

  it('hides credentials of URLs inside longer text, and leaves other text alone', () => {
    const text =
      'connect to postgres://bob:s3cret@db/chat failed; retry nats://alice:pw2@n:4222 later';
    expect(redactUrl(text)).toBe(
      'connect to postgres://bob:***@db/chat failed; retry nats://alice:***@n:4222 later',
    );
    for (const plain of [
      'postgres://127.0.0.1:5432/tracechat',
      'user bob@example.com sent 3 messages',
      'http://127.0.0.1:4318/v1/traces',
    ]) {
      expect(redactUrl(plain)).toBe(plain);
    }
  });
});

describe('EnvReader sizes and durations', () => {
  it('reads sizes with binary and decimal units', () => {
    const r = new EnvReader('svc', { A: '1GiB', B: '512MiB', C: '2048', D: '5MB', E: '1 KiB' });
    expect(r.bytes('A', 0)).toBe(1024 ** 3);
    expect(r.bytes('B', 0)).toBe(512 * 1024 ** 2);
    expect(r.bytes('C', 0)).toBe(2048);
    expect(r.bytes('D', 0)).toBe(5_000_000);
    expect(r.bytes('E', 0)).toBe(1024);
    expect(r.bytes('UNSET', 77)).toBe(77);
  });

  it('reads durations with a unit', () => {
    const r = new EnvReader('svc', { A: '7d', B: '36h', C: '30m', D: '90s', E: '250ms' });
    expect(r.duration('A', 0)).toBe(7 * 86_400_000);
    expect(r.duration('B', 0)).toBe(36 * 3_600_000);
    expect(r.duration('C', 0)).toBe(1_800_000);
    expect(r.duration('D', 0)).toBe(90_000);
    expect(r.duration('E', 0)).toBe(250);
  });

  it('names a malformed size or duration without echoing it', () => {
    const r = new EnvReader('svc', { S: 'lots', T: '7 days', U: '10', M: '10KiB' });
    r.bytes('S', 0);
    r.duration('T', 0);
    r.duration('U', 0);
    r.bytes('M', 0, { min: 1024 * 1024 });
    expect(() => r.done({})).toThrow(
      /S: expected a size[\s\S]*T: expected a duration[\s\S]*U: expected a duration[\s\S]*M: must be ≥ 1048576 bytes/,
    );
    try {
      r.done({});
    } catch (err) {
      for (const value of ['lots', '7 days']) expect((err as Error).message).not.toContain(value);
    }
  });
});
