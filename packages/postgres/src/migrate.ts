import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Pool, PoolClient } from 'pg';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  readonly code = 'MIGRATION_FAILED';
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly sql: string;
  readonly checksum: string;
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads `NNNN_name.sql` files from a folder, in version order; other files are refused. */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE.exec(file);
    if (!match) throw new MigrationError(`${dir}/${file}: name must be NNNN_snake_case.sql`);
    const sql = await readFile(join(dir, file), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2]!,
      file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new MigrationError(`${dir}: migration ${i + 1} is missing`);
  });
  return migrations;
}

/**
 * Applies pending migrations of one component (e.g. "logic") in order, each in its own
 * transaction, under an advisory lock so concurrent starters apply each exactly once.
 * An applied migration whose file changed afterwards is refused. Returns versions applied.
 */
export async function migrate(pool: Pool, component: string, dir: string): Promise<number[]> {
  const migrations = await readMigrations(dir);
  const client: PoolClient = await pool.connect();
  const lockKey = createHash('sha256')
    .update(`tracechat.migrate.${component}`)
    .digest()
    .readInt32BE(0);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [lockKey]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      component text NOT NULL,
      version integer NOT NULL,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version))`);
    const { rows } = await client.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations WHERE component = $1',
      [component],
    );
    const applied = new Map(rows.map((r) => [r.version, r.checksum]));
    const done: number[] = [];
    for (const m of migrations) {
      const checksum = applied.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new MigrationError(`${component} migration ${m.file} changed after it was applied`);
        }
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query(
          'INSERT INTO schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)',
          [component, m.version, m.name, m.checksum],
        );
        await client.query('COMMIT');
        done.push(m.version);
      } catch (err) {
        await client.query('ROLLBACK');
        throw new MigrationError(`${component} migration ${m.file} failed`, {
          cause: err,
        });
      }
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [lockKey]).catch(() => undefined);
    client.release();
  }
}

/** Runs `fn` with a connection to the server's `postgres` database and the target's name. */
async function withAdmin<T>(
  url: string,
  fn: (client: Client, name: string) => Promise<T>,
): Promise<T> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name))
    throw new MigrationError(`unsupported database name "${name}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await fn(client, name);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` when it does not exist (connecting to `postgres`). */
export function ensureDatabase(url: string): Promise<boolean> {
  return withAdmin(url, async (client, name) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // another process created it first
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  });
}

/** Drops a database (tests use one database each). */
export async function dropDatabase(url: string): Promise<void> {
  await withAdmin(url, (client, name) =>
    client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  );
}
