import { join } from 'node:path';
import { migrateOnStart } from '@tracechat/postgres';
import { runService } from '@tracechat/runtime';
import { loadConfig } from './config';
import { buildPlacement } from './server';

runService({
  name: 'placement',
  loadConfig,
  prepare: async (config, log) => {
    const applied = await migrateOnStart(
      config.databaseUrl,
      'placement',
      join(__dirname, '..', 'migrations'),
    );
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  },
  build: buildPlacement,
});
