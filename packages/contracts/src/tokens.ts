/**
 * Client tokens: HS256 JWTs whose `sub` is the user id. Written on node:crypto rather than a JWT
 * library because the gateway verifies on the upgrade path synchronously and needs only HS256;
 * every other algorithm, `none` included, is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isUserId } from './ids';

/** The development secret of the native stack and compose; never valid in production. */
export const DEV_AUTH_SECRET = 'tracechat-dev-secret';
/** Shortest secret a service accepts. */
export const MIN_AUTH_SECRET_LENGTH = 16;

export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code = 'UNAUTHORIZED';
}

export interface Identity {
  readonly userId: string;
  /** When the token expires, in milliseconds since the epoch; undefined when it has no `exp`. */
  readonly expiresAt?: number;
}

function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

function decodeJson(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('not an object');
  }
  return value as Record<string, unknown>;
}

/**
 * Verifies an HS256 JWT and returns its subject as the user id. Refuses other algorithms,
 * bad signatures, expired (`exp`) or not-yet-valid (`nbf`) tokens, allowing `skewSeconds` of
 * clock skew, and subjects that are not valid user ids. Throws TokenError.
 */
export function verifyToken(
  token: string,
  secret: string,
  nowMs = Date.now(),
  skewSeconds = 30,
): Identity {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('token is not a JWT');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = decodeJson(headerPart);
    payload = decodeJson(payloadPart);
  } catch {
    throw new TokenError('token is malformed');
  }
  if (header.alg !== 'HS256') throw new TokenError('token must be signed with HS256');
  const expected = createHmac('sha256', secret).update(`${headerPart}.${payloadPart}`).digest();
  const actual = Buffer.from(signaturePart, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new TokenError('token signature is invalid');
  }
  const now = nowMs / 1000;
  if (
    payload.exp !== undefined &&
    (typeof payload.exp !== 'number' || payload.exp + skewSeconds < now)
  ) {
    throw new TokenError('token has expired');
  }
  if (
    payload.nbf !== undefined &&
    (typeof payload.nbf !== 'number' || payload.nbf - skewSeconds > now)
  ) {
    throw new TokenError('token is not valid yet');
  }
  if (!isUserId(payload.sub)) throw new TokenError('token subject is missing or malformed');
  return {
    userId: payload.sub,
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
  };
}

/** Signs an HS256 JWT for a user, valid for `ttlSeconds` (development tokens and tests). */
export function signToken(
  userId: string,
  secret: string,
  ttlSeconds = 3600,
  nowMs = Date.now(),
): string {
  const iat = Math.floor(nowMs / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ sub: userId, iat, exp: iat + ttlSeconds }));
  const signature = b64url(createHmac('sha256', secret).update(`${header}.${payload}`).digest());
  return `${header}.${payload}.${signature}`;
}
