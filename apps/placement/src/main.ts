import { join } from 'node:path';
import { ensureDatabase, createPool, migrate } from '@tracechat/postgres';
import { failStart, runUntilSignal } from '@tracechat/runtime';
import { createLogger } from '@tracechat/telemetry';
import { loadConfig } from './config';
import { buildPlacement } from './server';

const log = createLogger({ name: 'placement' });

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  log.level = config.logLevel;
  await ensureDatabase(config.databaseUrl);
  const pool = createPool(config.databaseUrl, 'tracechat-placement-migrate', 1);
  try {
    const applied = await migrate(pool, 'placement', join(__dirname, '..', 'migrations'));
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  } finally {
    await pool.end();
  }
  const placement = buildPlacement(config, log);
  await placement.listen();
  runUntilSignal(placement, log);
}

main().catch((err: unknown) => failStart(log, err));
