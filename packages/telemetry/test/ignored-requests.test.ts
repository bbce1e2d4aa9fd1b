import { isIgnoredIncomingRequest } from '../src/ignored-requests';

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
