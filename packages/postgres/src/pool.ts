import { Pool } from 'pg';

export { Pool };
export type { PoolClient } from 'pg';

export interface PoolOptions {
  /** Connections at most. */
  readonly max?: number;
  /**
   * Server-side bound on every statement (`statement_timeout`), so a stuck query fails instead
   * of holding a request forever. 0 turns it off (migrations).
   */
  readonly statementTimeoutMs?: number;
}

/** Default bound on one statement: every query tracechat runs answers in milliseconds. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 3000;

/**
 * A pool with tracechat's defaults; `application_name` shows the service in pg_stat_activity.
 * `options` may be the pool size alone (the older signature).
 */
export function createPool(
  url: string,
  applicationName: string,
  options: number | PoolOptions = {},
): Pool {
  const { max = 10, statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS } =
    typeof options === 'number' ? { max: options } : options;
  return new Pool({
    connectionString: url,
    application_name: applicationName,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    statement_timeout: statementTimeoutMs,
    // the client gives up a little after the server would have
    query_timeout: statementTimeoutMs > 0 ? statementTimeoutMs + 1000 : undefined,
  });
}
