import { createHmac, timingSafeEqual } from 'node:crypto';

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code = 'UNAUTHORIZED';
}

export interface Identity {
  readonly userId: string;
  readonly expiresAt?: number;
}

const USER_ID = /^[A-Za-z0-9_.@-]{1,128}$/;

function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

function decodeJson(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('not an object');
  return value as Record<string, unknown>;
}

/**
 * Verifies an HS256 JWT and returns its subject as the user id. Refuses other algorithms,
 * bad signatures, expired (`exp`) or not-yet-valid (`nbf`) tokens, with a little clock skew.
 */
export function verifyToken(
  token: string,
  secret: string,
  nowMs = Date.now(),
  skewSeconds = 30,
): Identity {
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError('token is not a JWT');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = decodeJson(headerPart);
    payload = decodeJson(payloadPart);
  } catch {
    throw new AuthError('token is malformed');
  }
  if (header.alg !== 'HS256') throw new AuthError('token must be signed with HS256');
  const expected = createHmac('sha256', secret).update(`${headerPart}.${payloadPart}`).digest();
  const actual = Buffer.from(signaturePart, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new AuthError('token signature is invalid');
  }
  const now = nowMs / 1000;
  if (
    payload.exp !== undefined &&
    (typeof payload.exp !== 'number' || payload.exp + skewSeconds < now)
  ) {
    throw new AuthError('token has expired');
  }
  if (
    payload.nbf !== undefined &&
    (typeof payload.nbf !== 'number' || payload.nbf - skewSeconds > now)
  ) {
    throw new AuthError('token is not valid yet');
  }
  if (typeof payload.sub !== 'string' || !USER_ID.test(payload.sub)) {
    throw new AuthError('token subject is missing or malformed');
  }
  return {
    userId: payload.sub,
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
  };
}

/** Signs an HS256 JWT for a user (dev tokens and tests). */
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

/** The token from `Authorization: Bearer …` or the `token` query parameter. */
export function tokenFromRequest(authorization: string | undefined, url: URL): string | undefined {
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (match) return match[1];
  }
  return url.searchParams.get('token') ?? undefined;
}
