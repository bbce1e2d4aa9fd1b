import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, dropDatabase, ensureDatabase, migrate } from '../src';

// The test database server, as every suite names it (the test kit reads the same variable).
const base = process.env.TEST_DATABASE_BASE_URL || 'postgres://postgres@127.0.0.1:5432';

describe('migrate', () => {
  // each test gets a database and a migrations folder of its own
  let url: string;
  let dir: string;

  beforeEach(async () => {
    const target = new URL(base);
    target.pathname = `/tracechat_migrate_${randomBytes(6).toString('hex')}`;
    url = target.toString();
    dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    expect(await ensureDatabase(url)).toBe(true);
    expect(await ensureDatabase(url)).toBe(false);
  });

  afterEach(async () => {
    await dropDatabase(url);
    await rm(dir, { recursive: true, force: true });
  });

  const writeInitial = async () => {
    await writeFile(join(dir, '0001_create_t.sql'), 'CREATE TABLE t (id int PRIMARY KEY);');
    await writeFile(join(dir, '0002_add_row.sql'), 'INSERT INTO t VALUES (1);');
  };

  it('applies pending migrations once, even with concurrent starters', async () => {
    await writeInitial();
    const pools = [createPool(url, 'a'), createPool(url, 'b')];
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
    const pool = createPool(url, 'c');
    try {
      await writeInitial();
      expect(await migrate(pool, 'demo', dir)).toEqual([1, 2]);
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
