/**
 * The built web chat (apps/web's `dist`) served at `/` by every gateway, so a browser reaches the
 * page, the WebSocket and the API on one origin: no CORS anywhere.
 */
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/**
 * What the page may load and connect to: its own origin only (the WebSocket on the same host:
 * `ws:`/`wss:` because older browsers do not count them as `'self'`), images inline as data URLs,
 * no plugins, no framing, no `<base>` and forms only to itself.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every response of the public port. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Vite's output names files under `assets/` by their content hash: they never change. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else (index.html first) is checked with the server on every use. */
const REVALIDATE = 'no-cache';

/** The page shown while the web app has not been built: what to run, and where it is looked for. */
function notBuiltPage(root: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>tracechat: web app not built</title></head>
<body>
<h1>The web app is not built yet</h1>
<p>This gateway serves the web chat from <code>${escapeHtml(root)}</code>, which has no
<code>index.html</code>. Build it with <code>pnpm build</code> at the repository's root (or
<code>pnpm --filter @tracechat/web build</code>), then reload this page. <code>WEB_ROOT</code>
points the gateway at another build.</p>
<p>The WebSocket endpoint <code>/ws</code> and the HTTP API under <code>/api/</code> work
without it.</p>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Serves the web app from `root`: `/` is its `index.html` (revalidated on every load), its
 * hashed assets are cached for a year, a missing file is a 404. When `root` has no `index.html`
 * (not built yet; checked on every request, so a build while the gateway runs is picked up) `/`
 * answers a plain 503 page that says how to build it. Adds the security headers, CSP first, to
 * every response of `app`.
 */
export function registerWebApp(app: FastifyInstance, root: string): void {
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  const assets = join(root, 'assets') + sep;
  void app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: false,
    wildcard: true,
    dotfiles: 'deny',
    cacheControl: false,
    setHeaders: (res, path) => {
      res.setHeader('cache-control', path.startsWith(assets) ? IMMUTABLE : REVALIDATE);
    },
  });
  app.get('/', async (_request, reply) => {
    if (!existsSync(join(root, 'index.html'))) {
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(notBuiltPage(root));
    }
    return reply.header('cache-control', REVALIDATE).sendFile('index.html');
  });
}
