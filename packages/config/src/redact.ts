/** What replaces a secret in text that leaves the process (logs, errors, spans). */
export const REDACTED = '***';

// scheme://userinfo@ — userinfo up to the last "@" before the host, without "/" or whitespace
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)((?:[^\s/?#@]*@)+)/gi;

/**
 * `text` with the credentials of every URL in it replaced: `postgres://bob:pw@db/x` becomes
 * `postgres://bob:***@db/x`, and a user part that may itself be a token (`nats://TOKEN@host`,
 * no password) becomes `***`. Text without a URL is returned as it was. Query parameters are left
 * alone: no URL tracechat reads carries a secret there.
 */
export function redactUrl(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(CREDENTIALS, (_match, scheme: string, userinfo: string) => {
    const info = userinfo.slice(0, -1);
    const colon = info.indexOf(':');
    return colon < 0 ? `${scheme}${REDACTED}@` : `${scheme}${info.slice(0, colon)}:${REDACTED}@`;
  });
}
