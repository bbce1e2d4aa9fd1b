import { ensureDatabase, migrate } from './migrate';
import { createPool } from './pool';

/**
 * What a service that owns tables does as it starts: creates its database when missing, then
 * applies its pending migrations (under the migration lock, so replicas can start together).
 * Returns the versions it applied.
 */
export async function migrateOnStart(
  databaseUrl: string,
  owner: string,
  migrationsDir: string,
): Promise<number[]> {
  await ensureDatabase(databaseUrl);
  const pool = createPool(databaseUrl, `tracechat-${owner}-migrate`, {
    max: 1,
    statementTimeoutMs: 0,
  });
  try {
    return await migrate(pool, owner, migrationsDir);
  } finally {
    await pool.end();
  }
}
