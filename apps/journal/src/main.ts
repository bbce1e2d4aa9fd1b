import { runService } from '@tracechat/runtime';
import { loadConfig } from './config';
import { buildJournal } from './server';

runService({ name: 'journal', loadConfig, build: buildJournal });
