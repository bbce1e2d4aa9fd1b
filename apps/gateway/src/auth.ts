import { TokenError, verifyToken } from '@tracechat/contracts';
import type { Identity, TokenRules } from '@tracechat/contracts';
import type { GatewayConfig } from './config';

/** What a client token must satisfy on this gateway, from its configuration. */
export function tokenRules(config: GatewayConfig): TokenRules {
  return {
    maxLifetimeSeconds: config.authMaxTokenLifetimeSeconds,
    issuer: config.authIssuer,
    audience: config.authAudience,
  };
}

/** The token of an `Authorization: Bearer …` header; undefined for anything else. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  return /^Bearer\s+(\S+)$/i.exec(authorization.trim())?.[1];
}

/** The token from `Authorization: Bearer …` or the `token` query parameter. */
export function tokenFromRequest(authorization: string | undefined, url: URL): string | undefined {
  return bearerToken(authorization) ?? url.searchParams.get('token') ?? undefined;
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
