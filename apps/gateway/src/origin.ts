/**
 * Whether a browser's upgrade may proceed. No `Origin` (a non-browser client) is allowed; an
 * `Origin` is allowed when `allowed` holds `*` or that origin, or when it is the gateway's own:
 * its host and port equal the request's `Host` (default ports as the Origin's scheme has them).
 * `null` and anything unparsable are refused.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*')) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (allowed.includes(url.origin)) return true;
  if (!host) return false;
  try {
    return new URL(`${url.protocol}//${host}`).host === url.host;
  } catch {
    return false;
  }
}
