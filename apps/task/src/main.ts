import { failStart, runUntilSignal } from '@tracechat/runtime';
import { createLogger } from '@tracechat/telemetry';
import { loadConfig } from './config';
import { buildTask } from './server';

const log = createLogger({ name: 'task' });

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  log.level = config.logLevel;
  const task = buildTask(config, log);
  await task.listen();
  runUntilSignal(task, log);
}

main().catch((err: unknown) => failStart(log, err));
