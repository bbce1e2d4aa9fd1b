import { join } from 'node:path';
import { setupPlacement } from '@tracechat/testkit';
import type { PlacementKit } from '@tracechat/testkit';
import { createLogger } from '@tracechat/telemetry';
import { buildPlacement, loadConfig } from '../src';

/** The test kit's placement servers, built by this app's factory with its migrations. */
export function setup(): Promise<PlacementKit> {
  const log = createLogger({ name: 'placement', level: 'error' });
  return setupPlacement({
    migrations: join(__dirname, '..', 'migrations'),
    build: (env) => buildPlacement(loadConfig(env), log),
  });
}
