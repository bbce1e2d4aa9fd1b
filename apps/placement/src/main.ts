import { join } from 'node:path';
import { runService } from '@tracechat/runtime';
import { loadConfig } from './config';
import { buildPlacement } from './server';

runService({
  name: 'placement',
  loadConfig,
  migrations: join(__dirname, '..', 'migrations'),
  build: buildPlacement,
});
