import { TokenError, signToken, verifyToken } from '../src';

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
