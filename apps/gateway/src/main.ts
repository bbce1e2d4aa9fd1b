import { failStart, runUntilSignal } from '@tracechat/runtime';
import { createLogger } from '@tracechat/telemetry';
import { loadConfig } from './config';
import { buildGateway } from './server';

const log = createLogger({ name: 'gateway' });

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  log.level = config.logLevel;
  const gateway = buildGateway(config, log);
  await gateway.listen();
  runUntilSignal(gateway, log);
}

main().catch((err: unknown) => failStart(log, err));
