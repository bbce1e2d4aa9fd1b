import { runService } from '@tracechat/runtime';
import { loadConfig } from './config';
import { buildGateway } from './server';

runService({ name: 'gateway', loadConfig, build: buildGateway });
