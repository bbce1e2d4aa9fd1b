import { tokenClaims } from './api';

/** Who this tab is signed in as; kept per tab (sessionStorage) so two windows can be two users. */
export interface Auth {
  readonly user: string;
  readonly token: string;
}

const KEY = 'tracechat.auth';

export function loadAuth(): Auth | null {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  const claims = tokenClaims(token);
  if (!claims || (claims.expiresAt !== null && claims.expiresAt <= Date.now())) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  return { user: claims.user, token };
}

/** Keeps a token; throws when it is not a JWT with a user (`sub`) or has expired. */
export function saveAuth(token: string): Auth {
  const claims = tokenClaims(token.trim());
  if (!claims) throw new Error('that is not a tracechat token (a JWT with the user id as sub)');
  if (claims.expiresAt !== null && claims.expiresAt <= Date.now()) {
    throw new Error('that token has expired');
  }
  sessionStorage.setItem(KEY, token.trim());
  return { user: claims.user, token: token.trim() };
}

export function clearAuth(): void {
  sessionStorage.removeItem(KEY);
}
