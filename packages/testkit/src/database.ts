import { randomBytes } from 'node:crypto';
import { createPool, dropDatabase, ensureDatabase, migrate } from '@tracechat/postgres';
import type { Pool } from '@tracechat/postgres';
import { testDatabaseBaseUrl } from './env';

export interface TestDatabase {
  /** `…/tracechat_<label>_<random>` on the server named by `TEST_DATABASE_BASE_URL`. */
  readonly url: string;
  /** A small pool on it, for set-up and assertions. */
  readonly pool: Pool;
  /** Ends the pool and drops the database. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Migrations to apply, in order: each folder under its owner's name. */
  readonly migrations?: readonly { readonly owner: string; readonly dir: string }[];
}

/** Creates (and migrates) a database no other test or stack uses; `drop()` it in `afterAll`. */
export async function createTestDatabase(
  label: string,
  options: TestDatabaseOptions = {},
): Promise<TestDatabase> {
  const url = new URL(testDatabaseBaseUrl());
  url.pathname = `/tracechat_${label.replace(/[^a-z0-9_]/gi, '_')}_${randomBytes(6).toString('hex')}`;
  const databaseUrl = url.toString();
  await ensureDatabase(databaseUrl);
  const pool = createPool(databaseUrl, `test-${label}`, 4);
  try {
    for (const m of options.migrations ?? []) await migrate(pool, m.owner, m.dir);
  } catch (err) {
    await pool.end();
    await dropDatabase(databaseUrl);
    throw err;
  }
  return {
    url: databaseUrl,
    pool,
    drop: async () => {
      await pool.end();
      await dropDatabase(databaseUrl);
    },
  };
}
