import { ConfigError, EnvReader, MIN_SERVICE_SECRET_LENGTH, sharedEnv } from '../src';

describe('EnvReader', () => {
  it('treats empty variables as unset and applies defaults', () => {
    const reader = new EnvReader('svc', { PORT: '', NAME: '  ' });
    const config = reader.done({
      port: reader.int('PORT', 8080),
      name: reader.string('NAME', 'x'),
    });
    expect(config).toEqual({ port: 8080, name: 'x' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every malformed variable by name in one error', () => {
    const reader = new EnvReader('svc', { PORT: 'eighty', DEBUG: 'maybe', URL: 'ftp://x' });
    reader.int('PORT', 1);
    reader.bool('DEBUG', false);
    reader.url('URL', 'http://a', ['http:']);
    reader.required('SECRET');
    let error: unknown;
    try {
      reader.done({});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('PORT: expected an integer');
    expect(message).toContain('DEBUG: expected true or false');
    expect(message).toContain('URL: expected a http: URL');
    // values are never echoed: a malformed DATABASE_URL may carry a password
    for (const value of ['eighty', 'maybe', 'ftp://x']) expect(message).not.toContain(value);
    expect(message).toContain('SECRET is required');
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('checks integer ranges, lists and enumerations', () => {
    const reader = new EnvReader('svc', { N: '0', L: 'a, b,,c', MODE: 'fast' });
    reader.int('N', 5, { min: 1 });
    const list = reader.list('L', []);
    reader.oneOf('MODE', 'slow', ['slow', 'safe'] as const);
    expect(list).toEqual(['a', 'b', 'c']);
    expect(() => reader.done({})).toThrow(/N: must be ≥ 1[\s\S]*MODE: expected one of slow, safe/);
  });

  it('validates host:port addresses', () => {
    const reader = new EnvReader('svc', { A: '127.0.0.1:50052', B: 'nohost' });
    expect(reader.address('A', 'x:1')).toBe('127.0.0.1:50052');
    reader.address('B', 'x:1');
    expect(() => reader.done({})).toThrow(/B: expected host:port/);
  });
});

describe('SERVICE_SECRET', () => {
  const load = (env: Record<string, string>) => {
    const reader = new EnvReader('svc', env);
    const secret = sharedEnv(reader).serviceSecret();
    return reader.done({ secret });
  };

  it('is required, with no development default', () => {
    expect(() => load({})).toThrow(ConfigError);
    expect(() => load({ SERVICE_SECRET: '  ' })).toThrow(/SERVICE_SECRET is required/);
  });

  it(`must be at least ${MIN_SERVICE_SECRET_LENGTH} characters, and the error never shows it`, () => {
    const short = 's'.repeat(MIN_SERVICE_SECRET_LENGTH - 1);
    let message = '';
    try {
      load({ SERVICE_SECRET: short });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(
      `SERVICE_SECRET must be at least ${MIN_SERVICE_SECRET_LENGTH} characters`,
    );
    expect(message).not.toContain(short);
    const long = 's'.repeat(MIN_SERVICE_SECRET_LENGTH);
    expect(load({ SERVICE_SECRET: long }).secret).toBe(long);
  });
});
