// Finding a message's trace (its id in Postgres, the trace in Jaeger's query API) and printing
// its journey: shared by `tracechat trace` and the chat's `/trace`.
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchTrace } from '@tracechat/client';
import { createPool } from '@tracechat/postgres';
import { buildJourney, renderHops, renderWaterfall } from '@tracechat/journey';
import type { JaegerTrace } from '@tracechat/journey';

const TRACE_ID = /^[0-9a-f]{32}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type TraceTarget =
  | { readonly kind: 'trace'; readonly traceId: string }
  | { readonly kind: 'message'; readonly messageId: string };

/** A 32-hex argument is a trace id, a UUID a message id; anything else undefined. */
export function traceTarget(arg: string): TraceTarget | undefined {
  if (TRACE_ID.test(arg)) return { kind: 'trace', traceId: arg.toLowerCase() };
  if (UUID.test(arg)) return { kind: 'message', messageId: arg.toLowerCase() };
  return undefined;
}

/**
 * The trace id stored with a message, asking again for up to `waitMs` while the message is not
 * there (the journal projects it into Postgres shortly after the ack); undefined when it never is.
 */
export async function traceIdOfMessage(
  databaseUrl: string,
  messageId: string,
  waitMs = 0,
): Promise<string | undefined> {
  const pool = createPool(databaseUrl, 'tracechat-cli', 1);
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      const { rows } = await pool.query<{ trace_id: string | null }>(
        'SELECT trace_id FROM messages WHERE id = $1',
        [messageId],
      );
      const traceId = rows[0]?.trace_id;
      if (traceId) return traceId;
      if (Date.now() >= deadline) return undefined;
      await sleep(300);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED')
      throw new Error(`cannot reach Postgres at ${redact(databaseUrl)}: is it running?`);
    if (code === '3D000')
      throw new Error(
        `no database at ${redact(databaseUrl)}: has the stack been started (pnpm start)?`,
      );
    throw new Error(`cannot read messages from ${redact(databaseUrl)}: ${(err as Error).message}`);
  } finally {
    await pool.end();
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * The trace from Jaeger, waiting up to `waitMs` for it to appear: spans reach Jaeger a second or
 * so after the message, from several services at different times, so once it is there it is read
 * again until two reads in a row hold the same number of spans. Undefined when it never came.
 */
export async function fetchSettledTrace(
  jaegerUrl: string,
  traceId: string,
  waitMs: number,
): Promise<JaegerTrace | undefined> {
  const deadline = Date.now() + waitMs;
  let last: JaegerTrace | undefined;
  let stableReads = 0;
  for (;;) {
    let trace: JaegerTrace | undefined;
    try {
      trace = await fetchTrace(jaegerUrl, traceId);
    } catch (err) {
      // fetch itself failing (not an HTTP answer) means nothing answered at that address
      if (err instanceof TypeError) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(
          `cannot reach Jaeger at ${jaegerUrl} (${cause?.code ?? cause?.message ?? err.message}): is the stack running? (pnpm start)`,
        );
      }
      throw err;
    }
    if (trace) {
      stableReads = last && last.spans.length === trace.spans.length ? stableReads + 1 : 0;
      last = trace;
      if (stableReads >= 2) return last;
    }
    if (Date.now() >= deadline) return last;
    await sleep(last ? 500 : 250);
  }
}

/** The journey as text: the waterfall, then the hops with their latencies. */
export function journeyText(
  trace: JaegerTrace,
  options: { width?: number; color?: boolean },
): string {
  const journey = buildJourney(trace);
  return `${renderWaterfall(journey, options)}\n${renderHops(journey, options)}`;
}

/** What to say when a trace is not in Jaeger. */
export function notFoundText(traceId: string, waitSeconds: number): string {
  return (
    `trace ${traceId} is not in Jaeger (waited ${waitSeconds} s): tail sampling may have dropped it; ` +
    'resend with /debug (in chat) or --debug (pnpm send) so the next one is kept'
  );
}
