// `tracechat trace <message-id|trace-id>` (`pnpm trace …`): a message's journey in the terminal,
// the waterfall of its trace and the hops from the sender to each recipient.
import { Defaults, UsageError, envValue } from '../cli-env';
import type { Env } from '../cli-env';
import {
  fetchSettledTrace,
  journeyText,
  notFoundText,
  traceIdOfMessage,
  traceTarget,
} from '../journey-fetch';

export interface TraceOptions {
  readonly jaeger?: string;
  readonly databaseUrl?: string;
  /** Seconds to wait for the trace to reach Jaeger. */
  readonly wait: number;
  readonly width?: number;
  readonly color?: boolean;
}

/** Prints the journey; false (after saying why on stderr) when there is none to print. */
export async function trace(id: string, options: TraceOptions, env: Env): Promise<boolean> {
  const target = traceTarget(id);
  if (!target)
    throw new UsageError(
      `${JSON.stringify(id)} is neither a message id (a UUID, as in an ack or history) nor a trace id (32 hex digits)`,
    );
  const jaeger = options.jaeger ?? envValue(env, 'JAEGER_QUERY_URL', Defaults.JAEGER_QUERY_URL);
  let traceId: string;
  if (target.kind === 'trace') {
    traceId = target.traceId;
  } else {
    const databaseUrl = options.databaseUrl ?? envValue(env, 'DATABASE_URL', Defaults.DATABASE_URL);
    const found = await traceIdOfMessage(
      databaseUrl,
      target.messageId,
      Math.min(options.wait, 3) * 1000,
    );
    if (!found) {
      console.error(
        `tracechat trace: no message ${target.messageId} in ${new URL(databaseUrl).pathname.slice(1)} (or it has no trace id yet: it appears once the message is projected, within a second)`,
      );
      return false;
    }
    traceId = found;
  }
  const found = await fetchSettledTrace(jaeger, traceId, options.wait * 1000);
  if (!found) {
    console.error(`tracechat trace: ${notFoundText(traceId, options.wait)}`);
    return false;
  }
  const tty = process.stdout.isTTY === true;
  process.stdout.write(
    journeyText(found, {
      width: options.width ?? (tty ? process.stdout.columns : undefined),
      color: options.color ?? tty,
    }),
  );
  return true;
}
