import { runService } from '@tracechat/runtime';
import { loadConfig } from './config';
import { buildTask } from './server';

runService({ name: 'task', loadConfig, build: buildTask });
