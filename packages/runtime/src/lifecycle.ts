import { shutdownTelemetry } from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';

/** Something main.ts started and must stop: its `close` stops accepting, drains, then closes. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * Runs a service until SIGINT or SIGTERM, then shuts down in one order: the service closes
 * (stop accepting, drain in-flight work, close clients), telemetry flushes, the process exits.
 * A second signal, or a shutdown slower than `graceMs`, exits at once.
 */
export function runUntilSignal(service: Closable, log: Logger, graceMs = 10_000): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ graceMs }, 'shutdown took too long, exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    service
      .close()
      .catch((err: unknown) => log.error({ err }, 'error while closing'))
      .then(() => shutdownTelemetry())
      .then(
        () => {
          log.info('stopped');
          log.flush();
          process.exit(0);
        },
        () => process.exit(1),
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}

/** Logs a failure to start, flushes telemetry and exits non-zero. */
export async function failStart(log: Logger, err: unknown): Promise<never> {
  log.fatal({ err }, 'failed to start');
  await shutdownTelemetry();
  log.flush();
  process.exit(1);
}
