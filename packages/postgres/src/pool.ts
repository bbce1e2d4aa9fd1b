import { Pool } from 'pg';

export { Pool };
export type { PoolClient } from 'pg';

/** A pool with tracechat's defaults; `application_name` shows the service in pg_stat_activity. */
export function createPool(url: string, applicationName: string, max = 10): Pool {
  return new Pool({
    connectionString: url,
    application_name: applicationName,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
  });
}
