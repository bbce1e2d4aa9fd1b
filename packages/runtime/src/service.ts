import { migrateOnStart } from '@tracechat/postgres';
import { createLogger } from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import { failStart, runUntilSignal } from './lifecycle';
import type { Closable } from './lifecycle';

export interface ServiceSpec<
  C extends { readonly logLevel: string; readonly databaseUrl?: string },
> {
  /** The service's name in logs. */
  readonly name: string;
  /** Parses and validates the environment; throws with every problem at once. */
  readonly loadConfig: (env: NodeJS.ProcessEnv) => C;
  /**
   * The folder of the migrations of the tables this service owns, applied (to the config's
   * `databaseUrl`) before it is built; a service that owns no table has none.
   */
  readonly migrations?: string;
  readonly build: (config: C, log: Logger) => Closable & { listen(): Promise<unknown> };
}

/**
 * The one way a service starts: load config, set the log level, apply its migrations, build,
 * listen, then run until SIGINT/SIGTERM with the ordered shutdown of `runUntilSignal`. A failure
 * to start is logged and exits non-zero. Telemetry was started before this by `--require`.
 */
export function runService<C extends { readonly logLevel: string; readonly databaseUrl?: string }>(
  spec: ServiceSpec<C>,
): void {
  const log = createLogger({ name: spec.name });
  const start = async () => {
    const config = spec.loadConfig(process.env);
    log.level = config.logLevel;
    if (spec.migrations) {
      if (!config.databaseUrl) throw new Error(`${spec.name} has migrations but no databaseUrl`);
      const applied = await migrateOnStart(config.databaseUrl, spec.name, spec.migrations);
      if (applied.length > 0) log.info({ applied }, 'migrations applied');
    }
    const service = spec.build(config, log);
    await service.listen();
    runUntilSignal(service, log);
  };
  start().catch((err: unknown) => failStart(log, err));
}
