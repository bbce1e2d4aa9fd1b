import { join } from 'node:path';
import { runService } from '@tracechat/runtime';
import { loadConfig } from './config';
import { buildLogic } from './server';

runService({
  name: 'logic',
  loadConfig,
  migrations: join(__dirname, '..', 'migrations'),
  build: buildLogic,
});
