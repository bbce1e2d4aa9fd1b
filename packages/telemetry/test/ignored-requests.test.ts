import { isIgnoredIncomingRequest, untracedRoute } from '../src/ignored-requests';

describe('isIgnoredIncomingRequest — HTTP requests that get no span', () => {
  it.each([
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/metrics'],
    ['GET', '/'],
    ['HEAD', '/'],
    ['GET', '/index.html'],
    ['GET', '/favicon.ico'],
    ['GET', '/assets/index-3f2a.js'],
    ['GET', '/assets/fonts/a.woff2?v=2'],
    ['GET', '/api/config'],
    ['POST', '/api/otlp/v1/traces'],
  ])('ignores %s %s', (method, url) => {
    expect(isIgnoredIncomingRequest(method, url)).toBe(true);
  });

  it.each([
    ['GET', '/ws'],
    ['GET', '/ws?token=x'],
    ['GET', '/api/messages/m1/trace'],
    ['POST', '/api/dev/token'],
    ['POST', '/'],
    ['POST', '/api/config'],
    ['GET', '/assetsx'],
    ['GET', '/metricsfoo'],
  ])('traces %s %s', (method, url) => {
    expect(isIgnoredIncomingRequest(method, url)).toBe(false);
  });
});

describe('untracedRoute (fastify route spans)', () => {
  it.each([
    ['/healthz', 'GET'],
    ['/', ['GET', 'HEAD']],
    ['/*', ['GET', 'HEAD']],
    ['/api/config', 'GET'],
    ['/api/otlp/v1/traces', 'POST'],
  ])('makes no span for %s %s', (url, method) => {
    expect(untracedRoute(url, method)).toBe(true);
  });

  it.each([
    ['/api/messages/:message_id/trace', 'GET'],
    ['/api/dev/token', 'POST'],
    ['/admin/sampling/whitelist', ['GET', 'POST']],
  ])('traces %s %s', (url, method) => {
    expect(untracedRoute(url, method)).toBe(false);
  });
});
