import {
  DEV_AUTH_SECRET,
  MIN_AUTH_SECRET_LENGTH,
  TokenError,
  signToken,
  userTokenSecret,
  verifyToken,
} from '../src';

const SECRET = 'a-test-secret-of-some-length';

describe('verifyToken', () => {
  it('returns the subject of a valid HS256 token', () => {
    expect(verifyToken(signToken('alice', SECRET), SECRET)).toMatchObject({ userId: 'alice' });
  });

  it.each([
    ['a wrong signature', signToken('alice', 'another-secret-entirely'), /signature/],
    ['an expired token', signToken('alice', SECRET, -60), /expired/],
    ['garbage', 'not-a-jwt', /not a JWT/],
    ['a malformed payload', 'eyJhbGciOiJIUzI1NiJ9.!!!.sig', /malformed/],
  ])('refuses %s', (_label, token, message) => {
    expect(() => verifyToken(token, SECRET)).toThrow(TokenError);
    expect(() => verifyToken(token, SECRET)).toThrow(message);
  });

  it('refuses the none algorithm even with an empty signature', () => {
    const header = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
    const payload = Buffer.from('{"sub":"mallory"}').toString('base64url');
    expect(() => verifyToken(`${header}.${payload}.`, SECRET)).toThrow(/HS256/);
  });

  it('refuses a subject that is not a plain user id', () => {
    const token = signToken('bad user!', SECRET);
    expect(() => verifyToken(token, SECRET)).toThrow(/subject/);
  });
});

describe('verifyToken rules', () => {
  const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
  const sign = (claims: Record<string, unknown>, ttl = 3600) =>
    signToken('alice', SECRET, ttl, NOW, claims);

  it('refuses a token without exp, or with an exp that is not a number', () => {
    expect(() => verifyToken(sign({ exp: undefined }), SECRET, {}, NOW)).toThrow(/no expiry/);
    expect(() => verifyToken(sign({ exp: 'tomorrow' }), SECRET, {}, NOW)).toThrow(/no expiry/);
  });

  it('returns when the token expires', () => {
    expect(verifyToken(sign({}, 120), SECRET, {}, NOW).expiresAt).toBe(NOW + 120_000);
  });

  it('allows a lifetime up to the maximum (24 h by default) and refuses a longer one', () => {
    expect(verifyToken(sign({}, 24 * 3600), SECRET, {}, NOW).userId).toBe('alice');
    expect(() => verifyToken(sign({}, 24 * 3600 + 1), SECRET, {}, NOW)).toThrow(/lifetime/);
    const rules = { maxLifetimeSeconds: 600 };
    expect(verifyToken(sign({}, 600), SECRET, rules, NOW).userId).toBe('alice');
    expect(() => verifyToken(sign({}, 601), SECRET, rules, NOW)).toThrow(/lifetime/);
  });

  it('measures the lifetime from now when there is no iat, and an iat in the future buys nothing', () => {
    const rules = { maxLifetimeSeconds: 600 };
    const exp = NOW / 1000;
    expect(verifyToken(sign({ iat: undefined, exp: exp + 500 }), SECRET, rules, NOW).userId).toBe(
      'alice',
    );
    expect(() =>
      verifyToken(sign({ iat: undefined, exp: exp + 3600 }), SECRET, rules, NOW),
    ).toThrow(/lifetime/);
    expect(() =>
      verifyToken(sign({ iat: exp + 3000, exp: exp + 3600 }), SECRET, rules, NOW),
    ).toThrow(/lifetime/);
    expect(() => verifyToken(sign({ iat: 'yesterday' }), SECRET, rules, NOW)).toThrow(/iat/);
  });

  it('checks iss only when an issuer is configured', () => {
    const rules = { issuer: 'https://auth.example.com' };
    expect(verifyToken(sign({ iss: 'https://auth.example.com' }), SECRET, rules, NOW).userId).toBe(
      'alice',
    );
    expect(() =>
      verifyToken(sign({ iss: 'https://evil.example.com' }), SECRET, rules, NOW),
    ).toThrow(/issuer/);
    expect(() => verifyToken(sign({}), SECRET, rules, NOW)).toThrow(/issuer/);
    expect(verifyToken(sign({ iss: 'anyone' }), SECRET, {}, NOW).userId).toBe('alice');
  });

  it('checks aud, a string or an array, only when an audience is configured', () => {
    const rules = { audience: 'tracechat' };
    expect(verifyToken(sign({ aud: 'tracechat' }), SECRET, rules, NOW).userId).toBe('alice');
    expect(verifyToken(sign({ aud: ['other', 'tracechat'] }), SECRET, rules, NOW).userId).toBe(
      'alice',
    );
    expect(() => verifyToken(sign({ aud: 'other' }), SECRET, rules, NOW)).toThrow(/audience/);
    expect(() => verifyToken(sign({ aud: ['other'] }), SECRET, rules, NOW)).toThrow(/audience/);
    expect(() => verifyToken(sign({ aud: [['tracechat']] }), SECRET, rules, NOW)).toThrow(
      /audience/,
    );
    expect(() => verifyToken(sign({}), SECRET, rules, NOW)).toThrow(/audience/);
    expect(verifyToken(sign({ aud: 'other' }), SECRET, {}, NOW).userId).toBe('alice');
  });

  it('allows 30 s of clock skew on exp', () => {
    const token = sign({}, 60);
    expect(verifyToken(token, SECRET, {}, NOW + 85_000).userId).toBe('alice');
    expect(() => verifyToken(token, SECRET, {}, NOW + 95_000)).toThrow(/expired/);
  });
});

describe('the development secret', () => {
  it('is the published one, shorter than any secret a deployment may choose', () => {
    expect(DEV_AUTH_SECRET).toBe('tracechat-dev-secret');
    expect(DEV_AUTH_SECRET.length).toBeLessThan(MIN_AUTH_SECRET_LENGTH);
  });
});

describe('userTokenSecret', () => {
  const strong = 'x'.repeat(MIN_AUTH_SECRET_LENGTH);

  it('takes AUTH_SECRET when set, the development secret when unset or empty', () => {
    expect(userTokenSecret({ AUTH_SECRET: strong })).toBe(strong);
    expect(userTokenSecret({})).toBe(DEV_AUTH_SECRET);
    expect(userTokenSecret({ AUTH_SECRET: '' })).toBe(DEV_AUTH_SECRET);
    expect(userTokenSecret({ AUTH_SECRET: DEV_AUTH_SECRET, ENVIRONMENT: 'test' })).toBe(
      DEV_AUTH_SECRET,
    );
    expect(userTokenSecret({ AUTH_SECRET: strong, ENVIRONMENT: 'production' })).toBe(strong);
  });

  it('refuses what a gateway would refuse, saying what to do', () => {
    expect(() => userTokenSecret({ ENVIRONMENT: 'production' })).toThrow(/AUTH_SECRET is required/);
    expect(() =>
      userTokenSecret({ AUTH_SECRET: DEV_AUTH_SECRET, ENVIRONMENT: 'production' }),
    ).toThrow(/development secret/);
    expect(() => userTokenSecret({ AUTH_SECRET: 'short' })).toThrow(
      /at least 32 characters \(unset it/,
    );
  });

  it('signs tokens a verifier with the same environment accepts', () => {
    const env = { AUTH_SECRET: strong };
    expect(verifyToken(signToken('alice', userTokenSecret(env)), strong).userId).toBe('alice');
  });
});
