/**
 * Client tokens: HS256 JWTs whose `sub` is the user id. Written on node:crypto rather than a JWT
 * library because the gateway verifies on the upgrade path synchronously and needs only HS256;
 * every other algorithm, `none` included, is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isUserId } from './ids';

/**
 * The development secret (a published contract: outside tools sign local tokens with it): the
 * fallback when `ENVIRONMENT=development` and `AUTH_SECRET` is unset, and the secret of the native
 * stack, compose, the test stacks and the bench. Production refuses it.
 */
export const DEV_AUTH_SECRET = 'tracechat-dev-secret';
/** Shortest secret a service accepts, the development secret aside (256 bits of HS256 key, as text). */
export const MIN_AUTH_SECRET_LENGTH = 32;
/** Longest lifetime (`exp` − `iat`) a token may have unless configured otherwise: 24 hours. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600;

/**
 * The secret client tokens are signed and verified with, read the same way by every tool and by
 * the stacks they start: `AUTH_SECRET` when set and not empty, else the development secret, except
 * with `ENVIRONMENT=production`, which requires it. Throws when the secret could not be used by a
 * gateway: shorter than `MIN_AUTH_SECRET_LENGTH` (the development secret aside), or the
 * development secret in production.
 */
export function userTokenSecret(env: Readonly<Record<string, string | undefined>>): string {
  const secret = env.AUTH_SECRET;
  const production = env.ENVIRONMENT === 'production';
  if (secret === undefined || secret === '') {
    if (production) throw new Error('AUTH_SECRET is required when ENVIRONMENT is production');
    return DEV_AUTH_SECRET;
  }
  if (secret === DEV_AUTH_SECRET) {
    if (production)
      throw new Error('AUTH_SECRET is the public development secret, which production refuses');
    return secret;
  }
  if (secret.length < MIN_AUTH_SECRET_LENGTH)
    throw new Error(
      `AUTH_SECRET must be at least ${MIN_AUTH_SECRET_LENGTH} characters (unset it to use the development secret)`,
    );
  return secret;
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code = 'UNAUTHORIZED';
}

export interface Identity {
  readonly userId: string;
  /** When the token expires, in milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** What a verifier demands of a token beyond its signature. */
export interface TokenRules {
  /** Longest allowed `exp` − `iat` (or `exp` − now without `iat`), in seconds; default 24 h. */
  readonly maxLifetimeSeconds?: number;
  /** When set, `iss` must equal it. */
  readonly issuer?: string;
  /** When set, `aud` (a string or an array of strings) must name it. */
  readonly audience?: string;
  /** Clock skew allowed on `exp`, `nbf` and the lifetime; default 30 s. */
  readonly skewSeconds?: number;
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

const HS256_HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

/** A JWT that is not one, or whose signature does not match: what `decodeHs256Jwt` throws. */
export class JwtError extends Error {
  override readonly name = 'JwtError';
  constructor(
    readonly fault: 'malformed' | 'bad_signature',
    message: string,
  ) {
    super(message);
  }
}

/** Signs `payload` as an HS256 JWT: the one signer of client and service tokens. */
export function signHs256Jwt(payload: Readonly<Record<string, unknown>>, secret: string): string {
  const body = b64url(JSON.stringify(payload));
  const signature = b64url(createHmac('sha256', secret).update(`${HS256_HEADER}.${body}`).digest());
  return `${HS256_HEADER}.${body}.${signature}`;
}

/**
 * Checks that `token` is an HS256 JWT signed with `secret` (constant-time) and returns its
 * payload; every other algorithm, `none` included, is refused. The claims are the caller's to
 * check. Throws JwtError.
 */
export function decodeHs256Jwt(token: string, secret: string): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed', 'token is not a JWT');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = decodeJson(headerPart);
    payload = decodeJson(payloadPart);
  } catch {
    throw new JwtError('malformed', 'token is malformed');
  }
  if (header.alg !== 'HS256') throw new JwtError('malformed', 'token must be signed with HS256');
  const expected = createHmac('sha256', secret).update(`${headerPart}.${payloadPart}`).digest();
  const actual = Buffer.from(signaturePart, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new JwtError('bad_signature', 'token signature is invalid');
  }
  return payload;
}

/**
 * Verifies an HS256 JWT and returns its subject as the user id. Refuses other algorithms, bad
 * signatures, tokens without a numeric `exp`, expired or not-yet-valid (`nbf`) ones (allowing the
 * rules' clock skew), lifetimes over `maxLifetimeSeconds` (`exp` − `iat`, and `exp` − now, so an
 * `iat` in the future buys nothing), a wrong `iss` or `aud` when the rules name one, and subjects
 * that are not valid user ids. Throws TokenError.
 */
export function verifyToken(
  token: string,
  secret: string,
  rules: TokenRules = {},
  nowMs = Date.now(),
): Identity {
  const skewSeconds = rules.skewSeconds ?? 30;
  const maxLifetime = rules.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  let payload: Record<string, unknown>;
  try {
    payload = decodeHs256Jwt(token, secret);
  } catch (err) {
    throw new TokenError((err as Error).message);
  }
  const now = nowMs / 1000;
  const exp = payload.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new TokenError('token has no expiry (exp)');
  }
  if (exp + skewSeconds < now) throw new TokenError('token has expired');
  if (
    payload.iat !== undefined &&
    (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat))
  ) {
    throw new TokenError('token issue time (iat) is malformed');
  }
  if (
    exp - now > maxLifetime + skewSeconds ||
    (typeof payload.iat === 'number' && exp - payload.iat > maxLifetime)
  ) {
    throw new TokenError('token lifetime is too long');
  }
  if (
    payload.nbf !== undefined &&
    (typeof payload.nbf !== 'number' || payload.nbf - skewSeconds > now)
  ) {
    throw new TokenError('token is not valid yet');
  }
  if (rules.issuer !== undefined && payload.iss !== rules.issuer) {
    throw new TokenError('token issuer is not accepted');
  }
  if (rules.audience !== undefined && !names(payload.aud, rules.audience)) {
    throw new TokenError('token audience is not accepted');
  }
  if (!isUserId(payload.sub)) throw new TokenError('token subject is missing or malformed');
  return { userId: payload.sub, expiresAt: exp * 1000 };
}

/** Whether an `aud` claim (a string or an array of strings, RFC 7519 §4.1.3) names `audience`. */
function names(aud: unknown, audience: string): boolean {
  if (typeof aud === 'string') return aud === audience;
  return Array.isArray(aud) && aud.some((entry) => entry === audience);
}

/**
 * Signs an HS256 JWT for a user, valid for `ttlSeconds` (development tokens and tests); `claims`
 * are added to the payload (`iss`, `aud`, …) and may override `iat` and `exp`.
 */
export function signToken(
  userId: string,
  secret: string,
  ttlSeconds = 3600,
  nowMs = Date.now(),
  claims: Readonly<Record<string, unknown>> = {},
): string {
  const iat = Math.floor(nowMs / 1000);
  return signHs256Jwt({ sub: userId, iat, exp: iat + ttlSeconds, ...claims }, secret);
}
