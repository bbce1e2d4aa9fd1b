import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A named readiness check; resolves when the dependency answers, rejects otherwise. */
export type Check = () => Promise<unknown>;

export interface HealthServer {
  readonly port: number;
  /** After this, /readyz answers 503 so load balancers stop sending work. */
  markDraining(): void;
  close(): Promise<void>;
}

/** Readiness as served by /readyz: every check's result, each bounded by `timeoutMs`. */
export interface Readiness {
  readonly ok: boolean;
  readonly results: Record<string, string>;
}

/** Runs the checks in parallel, each bounded by `timeoutMs`; a failure's message is its result. */
export async function runChecks(
  checks: Record<string, Check>,
  timeoutMs: number,
): Promise<Readiness> {
  const results: Record<string, string> = {};
  let ok = true;
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
          }),
        ]);
        results[name] = 'ok';
      } catch (err) {
        ok = false;
        results[name] = (err as Error).message || 'failed';
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ok, results };
}

/**
 * Serves GET /healthz (the process is alive) and GET /readyz (every check passes) on host:port.
 * Port 0 picks a free port.
 */
export function startHealthServer(
  address: { host: string; port: number },
  checks: Record<string, Check>,
  extra: Record<string, () => unknown> = {},
): Promise<HealthServer> {
  let draining = false;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return reply(405, { error: 'method not allowed' });
    if (path === '/healthz') return reply(200, { status: 'ok' });
    if (path === '/readyz') {
      if (draining) return reply(503, { status: 'draining' });
      void runChecks(checks, 2000).then(({ ok, results }) =>
        reply(ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', checks: results }),
      );
      return undefined;
    }
    const handler = extra[path];
    if (handler) return reply(200, handler());
    return reply(404, { error: 'not found' });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        markDraining: () => {
          draining = true;
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
