// `tracechat start --logs`: every service's log file followed in one stream, each line prefixed
// with its service in that service's colour (the colours of the journey waterfall).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { serviceColor } from '@tracechat/journey';

export interface LogSource {
  readonly name: string;
  readonly path: string;
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const QUIET_KEYS = new Set(['level', 'time', 'ts', 'pid', 'hostname', 'msg', 'message', 'caller']);

/**
 * One log line for people: a JSON line (pino's or Jaeger's) as `LEVEL message key=value …`,
 * anything else as it is.
 */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level =
    typeof record.level === 'number'
      ? (LEVELS[record.level] ?? String(record.level))
      : String(record.level ?? '').toUpperCase();
  const message = String(record.msg ?? record.message ?? '');
  const rest = Object.entries(record)
    .filter(([key]) => !QUIET_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return [level.padEnd(5), message, rest].filter((part) => part !== '').join(' ');
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The current size of each file: where following it should begin to skip what is already there. */
export function logOffsets(sources: readonly LogSource[]): Map<string, number> {
  return new Map(sources.map((s) => [s.path, fileSize(s.path)]));
}

/**
 * Follows the files from the given offsets (their start when absent), writing each complete line
 * as `name │ line`, the name coloured when `color`. Polls every `intervalMs`; a file that shrinks
 * (rotated or truncated) is read again from its start. Returns a function that stops following.
 */
export function followLogs(
  sources: readonly LogSource[],
  write: (text: string) => void,
  options: { color?: boolean; offsets?: ReadonlyMap<string, number>; intervalMs?: number } = {},
): () => void {
  const width = Math.max(...sources.map((s) => s.name.length));
  const state = sources.map((source) => {
    const hex = serviceColor(source.name.replace(/-\d+$/, ''));
    const n = Number.parseInt(hex.slice(1), 16);
    const label = source.name.padEnd(width);
    const prefix = options.color
      ? `\x1b[38;2;${(n >> 16) & 255};${(n >> 8) & 255};${n & 255}m${label}\x1b[0m │ `
      : `${label} │ `;
    return { source, prefix, offset: options.offsets?.get(source.path) ?? 0, partial: '' };
  });
  const poll = () => {
    for (const s of state) {
      const size = fileSize(s.source.path);
      if (size < s.offset) {
        s.offset = 0;
        s.partial = '';
      }
      if (size === s.offset) continue;
      const buffer = Buffer.alloc(Math.min(size - s.offset, 1 << 20));
      let fd: number;
      try {
        fd = openSync(s.source.path, 'r');
      } catch {
        continue;
      }
      try {
        s.offset += readSync(fd, buffer, 0, buffer.length, s.offset);
      } finally {
        closeSync(fd);
      }
      const lines = (s.partial + buffer.toString('utf8')).split('\n');
      s.partial = lines.pop()!;
      const out = lines
        .filter((l) => l.trim() !== '')
        .map((l) => `${s.prefix}${formatLogLine(l)}\n`);
      if (out.length > 0) write(out.join(''));
    }
  };
  const timer = setInterval(poll, options.intervalMs ?? 250);
  poll();
  return () => clearInterval(timer);
}
