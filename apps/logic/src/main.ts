import { join } from 'node:path';
import { ensureDatabase, createPool, migrate } from '@tracechat/postgres';
import { failStart, runUntilSignal } from '@tracechat/runtime';
import { createLogger } from '@tracechat/telemetry';
import { loadConfig } from './config';
import { buildLogic } from './server';

const log = createLogger({ name: 'logic' });

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  log.level = config.logLevel;
  await ensureDatabase(config.databaseUrl);
  const pool = createPool(config.databaseUrl, 'tracechat-logic-migrate', 1);
  try {
    const applied = await migrate(pool, 'logic', join(__dirname, '..', 'migrations'));
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  } finally {
    await pool.end();
  }
  const logic = buildLogic(config, log);
  await logic.listen();
  runUntilSignal(logic, log);
}

main().catch((err: unknown) => failStart(log, err));
