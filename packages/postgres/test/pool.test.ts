import { createPool } from '../src';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('createPool', () => {
  it('cancels a statement that runs past statementTimeoutMs, and the pool stays usable', async () => {
    const pool = createPool(url, 'pool-test', { max: 1, statementTimeoutMs: 200 });
    try {
      await expect(pool.query('SELECT pg_sleep(2)')).rejects.toThrow(/statement timeout/);
      const { rows } = await pool.query('SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('bounds every statement by default, and 0 turns the bound off', async () => {
    const bounded = createPool(url, 'pool-test', 1);
    const unbounded = createPool(url, 'pool-test', { statementTimeoutMs: 0 });
    try {
      expect((await bounded.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('3s');
      expect((await unbounded.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('0');
    } finally {
      await Promise.all([bounded.end(), unbounded.end()]);
    }
  });
});
