import { TokenError, verifyToken } from '@tracechat/contracts';
import type { Identity, TokenRules } from '@tracechat/contracts';

/** The token from `Authorization: Bearer …` or the `token` query parameter. */
export function tokenFromRequest(authorization: string | undefined, url: URL): string | undefined {
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (match) return match[1];
  }
  return url.searchParams.get('token') ?? undefined;
}

/** The identity of an upgrade request; TokenError when its token is missing or not valid. */
export function authenticate(
  authorization: string | undefined,
  url: URL,
  secret: string,
  rules: TokenRules = {},
): Identity {
  const token = tokenFromRequest(authorization, url);
  if (!token) throw new TokenError('missing token');
  return verifyToken(token, secret, rules);
}
