import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, dropDatabase, ensureDatabase, migrate } from '../src';

const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tracechat';

describe('migrate', () => {
  const url = new URL(base);
  url.pathname = `/tracechat_migrate_${process.pid}`;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    await dropDatabase(url.toString());
    expect(await ensureDatabase(url.toString())).toBe(true);
    expect(await ensureDatabase(url.toString())).toBe(false);
  });

  afterAll(async () => {
    await dropDatabase(url.toString());
    await rm(dir, { recursive: true, force: true });
  });

  it('applies pending migrations once, even with concurrent starters', async () => {
    await writeFile(join(dir, '0001_create_t.sql'), 'CREATE TABLE t (id int PRIMARY KEY);');
    await writeFile(join(dir, '0002_add_row.sql'), 'INSERT INTO t VALUES (1);');
    const pools = [createPool(url.toString(), 'a'), createPool(url.toString(), 'b')];
    try {
      const results = await Promise.all(pools.map((p) => migrate(p, 'demo', dir)));
      expect(results.flat().sort()).toEqual([1, 2]);
      const { rows } = await pools[0]!.query('SELECT count(*)::int AS n FROM t');
      expect(rows[0].n).toBe(1);
      expect(await migrate(pools[0]!, 'demo', dir)).toEqual([]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('refuses a migration edited after it was applied, and rolls back a failing one', async () => {
    const pool = createPool(url.toString(), 'c');
    try {
      await writeFile(join(dir, '0002_add_row.sql'), 'INSERT INTO t VALUES (2);');
      await expect(migrate(pool, 'demo', dir)).rejects.toThrow(/changed after it was applied/);
      await writeFile(join(dir, '0002_add_row.sql'), 'INSERT INTO t VALUES (1);');
      await writeFile(join(dir, '0003_broken.sql'), 'CREATE TABLE u (id int); SELECT nope;');
      await expect(migrate(pool, 'demo', dir)).rejects.toThrow(/0003_broken.sql failed/);
      const { rows } = await pool.query("SELECT to_regclass('u') AS u");
      expect(rows[0].u).toBeNull();
    } finally {
      await pool.end();
    }
  });
});
