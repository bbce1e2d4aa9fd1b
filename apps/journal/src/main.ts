import { failStart, runUntilSignal } from '@tracechat/runtime';
import { createLogger } from '@tracechat/telemetry';
import { loadConfig } from './config';
import { buildJournal } from './server';

const log = createLogger({ name: 'journal' });

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  log.level = config.logLevel;
  const journal = buildJournal(config, log);
  await journal.listen();
  runUntilSignal(journal, log);
}

main().catch((err: unknown) => failStart(log, err));
