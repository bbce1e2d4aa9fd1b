import { serviceColor } from './colors';
import { formatDuration } from './format';
import type { Journey } from './types';

export interface RenderOptions {
  /** Columns of the whole line; 100 unless given (at least 60 are used). */
  width?: number;
  /** ANSI colours (24-bit) and bold; off unless asked, so piped output stays plain. */
  color?: boolean;
}

const RESET = '\x1b[0m';
const BOLD = '\x1b[1m';
const RED = '\x1b[31m';

function fg(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `\x1b[38;2;${(n >> 16) & 255};${(n >> 8) & 255};${n & 255}m`;
}

const fit = (s: string, width: number) =>
  s.length <= width ? s.padEnd(width) : `${s.slice(0, Math.max(0, width - 1))}…`;

/**
 * A journey as terminal text: a header, then one line per span in tree order with its offset
 * from the trace's start and its duration (microsecond precision), the name indented a column per depth,
 * the service, and a bar placed on the trace's time line. `*` marks the critical path (bold too
 * with colour) and `!` an error; bars take their service's colour when `color` is set.
 */
export function renderWaterfall(journey: Journey, options: RenderOptions = {}): string {
  const width = Math.max(60, options.width ?? 100);
  const color = options.color === true;
  const total = Math.max(1, journey.durationUs);
  const header = `trace ${journey.traceId}  ${journey.spans.length} spans  ${formatDuration(journey.durationUs)}  (* critical path)`;
  if (journey.spans.length === 0) return `${header}\n  (no spans)\n`;

  const offsets = journey.spans.map((s) => `+${formatDuration(s.offsetUs)}`);
  const durations = journey.spans.map((s) => formatDuration(s.durationUs));
  const offW = Math.max(...offsets.map((s) => s.length));
  const durW = Math.max(...durations.map((s) => s.length));
  const svcW = Math.min(12, Math.max(...journey.spans.map((s) => s.service.length)));
  const names = journey.spans.map((s) => `${' '.repeat(s.depth)}${s.name}`);
  const fixed = 2 + offW + 1 + durW + 2 + svcW + 2; // marks, columns and the gaps between them
  const nameW = Math.min(
    Math.max(...names.map((n) => n.length)),
    Math.max(16, Math.floor((width - fixed) * 0.6)),
  );
  const barW = Math.max(10, width - fixed - nameW - 2);

  const lines = [color ? `${BOLD}${header}${RESET}` : header];
  journey.spans.forEach((span, i) => {
    const mark = `${span.onCriticalPath ? '*' : ' '}${span.error ? '!' : ' '}`;
    const from = Math.min(barW - 1, Math.floor((span.offsetUs / total) * barW));
    const to = Math.min(
      barW,
      Math.max(from + 1, Math.ceil(((span.offsetUs + span.durationUs) / total) * barW)),
    );
    const bar = '█'.repeat(to - from);
    let name = fit(names[i]!, nameW);
    let painted = bar;
    if (color) {
      painted = `${fg(serviceColor(span.service))}${bar}${RESET}`;
      if (span.error) name = `${RED}${name}${RESET}`;
      else if (span.onCriticalPath) name = `${BOLD}${name}${RESET}`;
    }
    const line =
      `${mark}${offsets[i]!.padStart(offW)} ${durations[i]!.padStart(durW)}  ${name}  ` +
      `${fit(span.service, svcW)}  ${' '.repeat(from)}${painted}`;
    lines.push(line.trimEnd());
  });
  return `${lines.join('\n')}\n`;
}

/** The hops as a table: label, service, offset from the trace's start and latency. */
export function renderHops(journey: Journey, options: RenderOptions = {}): string {
  if (journey.hops.length === 0) return 'hops: none of the message path spans are in this trace\n';
  const color = options.color === true;
  const labelW = Math.max(...journey.hops.map((h) => h.label.length));
  const svcW = Math.max(...journey.hops.map((h) => h.service.length));
  const offsets = journey.hops.map((h) => `+${formatDuration(h.offsetUs)}`);
  const offW = Math.max(...offsets.map((s) => s.length));
  const lines = ['hops (at, latency):'];
  journey.hops.forEach((hop, i) => {
    const service = color
      ? `${fg(serviceColor(hop.service))}${hop.service.padEnd(svcW)}${RESET}`
      : hop.service.padEnd(svcW);
    lines.push(
      `  ${hop.label.padEnd(labelW)}  ${service}  ${offsets[i]!.padStart(offW)}  ${formatDuration(hop.durationUs)}`,
    );
  });
  return `${lines.join('\n')}\n`;
}
