import { trace } from '@opentelemetry/api';
import pino from 'pino';
import type { Logger, LoggerOptions } from 'pino';
import { REDACTED, redactUrl } from '@tracechat/config';

export type { Logger };

/** Fields that never reach a log line: message text, tokens and secrets. */
export const REDACTED_PATHS = [
  'text',
  '*.text',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'connectionString',
  '*.connectionString',
];

/** Keys of an error whose values are dropped whatever they hold. */
const SECRET_KEYS = new Set(['password', 'connectionString', 'token', 'authorization', 'secret']);

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  // only plain objects are copied: an Error (or any other instance) is left to its serializer
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key) ? REDACTED : scrub(v, depth + 1);
  }
  return out;
}

/**
 * pino's error serializer, then made safe to write: credentials in URLs (a driver's message, a
 * stack) are replaced, and a Redis command's arguments are dropped (ioredis puts the failed
 * command on its errors, and for AUTH those are the user and password).
 */
export function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown;
  if (serialized === null || typeof serialized !== 'object') return scrub(serialized, 0);
  // pino's serialized error is no plain object: copy it into one (an error is logged rarely)
  const safe = scrub(JSON.parse(JSON.stringify(serialized)), 0) as Record<string, unknown>;
  const command = safe?.command as { name?: unknown; args?: unknown } | undefined;
  if (command && typeof command === 'object' && 'args' in command) {
    safe.command = { name: command.name, args: REDACTED };
  }
  return safe;
}

export interface LoggerSettings {
  name: string;
  level?: string;
  base?: Record<string, unknown>;
  /** Where lines go; stdout when omitted (tests pass a stream to read them). */
  destination?: pino.DestinationStream;
}

/**
 * A pino logger whose every line carries the active span's `trace_id` and `span_id`.
 * Errors go under `err`; text, tokens and secrets are redacted, and so are the credentials of
 * any URL in an error or in the message.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? 'info',
    base: { pid: process.pid, ...settings.base },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      // a URL may be logged as any field (an address, a config value): never its credentials
      log: (object) => scrub(object, 0) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) {
          const arg: unknown = args[i];
          if (typeof arg === 'string') (args as unknown[])[i] = redactUrl(arg);
        }
        return method.apply(this, args);
      },
    },
    mixin() {
      const spanContext = trace.getActiveSpan()?.spanContext();
      return spanContext && trace.isSpanContextValid(spanContext)
        ? { trace_id: spanContext.traceId, span_id: spanContext.spanId }
        : {};
    },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}
