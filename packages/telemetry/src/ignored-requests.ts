/** Paths never traced whatever the method: probes and the metrics scrape. */
const PROBES = /^\/(healthz|readyz|metrics)(\/|$)/;

/** What a browser fetches to load the web app: the page, its assets, its config. */
const WEB_APP = /^\/(index\.html|favicon\.ico|api\/config|assets\/.*)?$/;

/** The browser span endpoint: tracing it would trace every export of the spans themselves. */
const BROWSER_SPANS = /^\/api\/otlp\//;

/**
 * True for an incoming HTTP request not worth a span: health probes and metric scrapes, the web
 * app's page, assets and config (`GET`/`HEAD`), and browser span exports to `/api/otlp/`. They
 * would flood the traces with one-span traces and say nothing about a message. The WebSocket
 * upgrade (`/ws`) and the message API (`/api/messages/…`) are traced.
 */
export function isIgnoredIncomingRequest(
  method: string | undefined,
  url: string | undefined,
): boolean {
  const path = (url ?? '').split('?', 1)[0] ?? '';
  if (PROBES.test(path) || BROWSER_SPANS.test(path)) return true;
  const m = (method ?? 'GET').toUpperCase();
  return (m === 'GET' || m === 'HEAD') && WEB_APP.test(path);
}

/**
 * Fastify routes that make no span: only `/api/` and `/admin` routes are traced, less those no
 * HTTP server span is made for either (`isIgnoredIncomingRequest`: the web app's config, browser
 * spans on their way to the collector). Health, readiness and metrics probes and the web app's
 * static files start none. A route is judged by its pattern and every method it answers.
 */
export function untracedRoute(url: string | undefined, method: string | string[]): boolean {
  const path = (url ?? '/').split('?')[0]!;
  if (!path.startsWith('/api/') && !path.startsWith('/admin')) return true;
  const methods = Array.isArray(method) ? method : [method];
  return methods.every((m) => isIgnoredIncomingRequest(m, path));
}
