import { createLogger } from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import { failStart, runUntilSignal } from './lifecycle';
import type { Closable } from './lifecycle';

export interface ServiceSpec<C extends { readonly logLevel: string }> {
  /** The service's name in logs. */
  readonly name: string;
  /** Parses and validates the environment; throws with every problem at once. */
  readonly loadConfig: (env: NodeJS.ProcessEnv) => C;
  /** Work before the service is built, e.g. migrations. */
  readonly prepare?: (config: C, log: Logger) => Promise<void>;
  readonly build: (config: C, log: Logger) => Closable & { listen(): Promise<unknown> };
}

/**
 * The one way a service starts: load config, set the log level, prepare, build, listen, then
 * run until SIGINT/SIGTERM with the ordered shutdown of `runUntilSignal`. A failure to start is
 * logged and exits non-zero. Telemetry was started before this by `--require`.
 */
export function runService<C extends { readonly logLevel: string }>(spec: ServiceSpec<C>): void {
  const log = createLogger({ name: spec.name });
  const start = async () => {
    const config = spec.loadConfig(process.env);
    log.level = config.logLevel;
    await spec.prepare?.(config, log);
    const service = spec.build(config, log);
    await service.listen();
    runUntilSignal(service, log);
  };
  start().catch((err: unknown) => failStart(log, err));
}
