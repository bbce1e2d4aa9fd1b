// The bench's printed report: one table, a column per run (untraced, traced) and, with --compare,
// the ratios traced/untraced.
import type { Floors } from './floors';
import { hasLoad } from './options';
import type { BenchOptions } from './options';
import type { RunResult } from './run';
import { round } from './stats';

export interface Ratios {
  /** Delivered msg/s traced / untraced (target ≥ 0.85). */
  readonly throughput: number | null;
  /** CPU ms per delivered message traced / untraced (target ≤ 1.15). */
  readonly cpuPerMessage: number | null;
  readonly ackP99: number | null;
  readonly pushP99: number | null;
}

export interface BenchReport {
  readonly options: Omit<BenchOptions, 'help' | 'json' | 'inFlight'> & {
    readonly inFlight: number | null;
  };
  readonly runs: RunResult[];
  readonly ratios: Ratios | null;
  readonly floors: Floors | null;
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? null : round(a / b, 3);

export function ratios(untraced: RunResult, traced: RunResult): Ratios {
  return {
    throughput: ratio(traced.load?.deliveredPerSecond, untraced.load?.deliveredPerSecond),
    cpuPerMessage: ratio(traced.cpu?.msPerMessage, untraced.cpu?.msPerMessage),
    ackP99: ratio(traced.load?.ack.p99, untraced.load?.ack.p99),
    pushP99: ratio(traced.load?.push.p99, untraced.load?.push.p99),
  };
}

type Row = { readonly section: string } | { readonly label: string; readonly values: string[] };

function num(value: number | null | undefined, digits = 1): string {
  if (value == null || !Number.isFinite(value)) return 'n/a';
  return value.toFixed(digits);
}

function slash(values: (number | null | undefined)[], digits = 1): string {
  return values.map((v) => num(v, digits)).join(' / ');
}

function render(header: string[], rows: Row[]): string {
  const widths = header.map((h) => h.length);
  for (const row of rows) {
    if ('section' in row) continue;
    const cells = [row.label, ...row.values];
    cells.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  }
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[0]!) : c.padStart(widths[i]!)))
      .join('   ')
      .trimEnd();
  const out = [line(header)];
  for (const row of rows) {
    if ('section' in row) out.push(row.section);
    else out.push(line([row.label, ...row.values]));
  }
  return out.join('\n');
}

function describeLoad(options: BenchOptions): string {
  if (!hasLoad(options))
    return `no load${options.idleConnections > 0 ? `, ${options.idleConnections} idle connections` : ''}`;
  const shape = options.inFlight
    ? `closed loop, ${options.inFlight} in flight per sender`
    : `open loop ${options.rate} msg/s`;
  const senders = options.mqtt
    ? 'senders publish over MQTT 5 QoS 1 to gateway-1, receivers on the WebSocket of gateway-2'
    : 'senders on gateway-1, receivers on gateway-2, both WebSocket';
  return `${shape} over ${options.sessions} sessions (${senders}), ${options.warmup} s warm-up + ${options.seconds} s measured`;
}

export function formatReport(report: BenchReport, options: BenchOptions): string {
  const runs = report.runs;
  const compare = runs.length > 1;
  const header = ['', ...runs.map((r) => r.label), ...(compare ? ['traced/untraced'] : [])];
  const rows: Row[] = [];
  const row = (label: string, value: (r: RunResult) => string, ratioValue?: number | null) =>
    rows.push({
      label: `  ${label}`,
      values: [
        ...runs.map(value),
        ...(compare ? [ratioValue === undefined ? '' : num(ratioValue, 2)] : []),
      ],
    });
  const section = (title: string) => rows.push({ section: title });
  const r = report.ratios;

  if (runs.some((run) => run.load)) {
    section('load (measured window)');
    row('sent / acked / delivered', (x) =>
      x.load
        ? `${x.load.window.sent} / ${x.load.window.acked} / ${x.load.window.delivered}`
        : 'n/a',
    );
    row('sent msg/s', (x) => num(x.load?.sentPerSecond));
    row('delivered msg/s', (x) => num(x.load?.deliveredPerSecond), r?.throughput);
    row('errors (whole run)', (x) => (x.load ? String(x.load.errors.total) : 'n/a'));
    row('duplicate pushes', (x) => (x.load ? String(x.load.duplicatePushes) : 'n/a'));
    const ack = options.mqtt ? 'MQTT PUBACK' : 'ack';
    section(`${ack} ms, ${options.inFlight ? 'from the send' : 'from the intended send time'}`);
    row(
      'p50 / p90 / p99 / max',
      (x) => slash([x.load?.ack.p50, x.load?.ack.p90, x.load?.ack.p99, x.load?.ack.max]),
      r?.ackP99,
    );
    section(options.mqtt ? 'MQTT publish → WebSocket push ms' : 'WebSocket send → push ms');
    row(
      'p50 / p90 / p99 / max',
      (x) => slash([x.load?.push.p50, x.load?.push.p90, x.load?.push.p99, x.load?.push.max]),
      r?.pushP99,
    );
  }

  if (runs.some((run) => run.cpu)) {
    section('CPU % of one core over the measured window (ms per delivered message)');
    // the traced run (last) has every process, the collector included: its order first
    const names = [
      ...new Set([...runs].reverse().flatMap((x) => x.cpu?.processes.map((p) => p.name) ?? [])),
    ];
    for (const name of names) {
      const kind = runs.flatMap((x) => x.cpu?.processes ?? []).find((p) => p.name === name)?.kind;
      row(kind === 'server' ? `${name} (shared server)` : name, (x) => {
        const p = x.cpu?.processes.find((q) => q.name === name);
        return p ? `${num(p.cpuPercent)} (${num(p.msPerMessage, 3)})` : '-';
      });
    }
    row('total', (x) =>
      x.cpu ? `${num(x.cpu.totalPercent)} (${num(x.cpu.msPerMessage, 3)})` : 'n/a',
    );
    row('CPU ms per delivered message', (x) => num(x.cpu?.msPerMessage, 3), r?.cpuPerMessage);
    row('bench client (not in the total)', (x) => num(x.cpu?.benchClientPercent));
  }

  section('memory MiB (RSS; a server of several processes: summed PSS)');
  const memoryNames = [...new Set([...runs].reverse().flatMap((x) => x.memory.map((m) => m.name)))];
  for (const name of memoryNames)
    row(name, (x) => {
      const m = x.memory.find((q) => q.name === name);
      return m ? num(m.kb === null ? null : m.kb / 1024, 0) : '-';
    });

  if (runs.some((run) => run.spans)) {
    section('spans (whole run): exported / dropped (queue full + export failed)');
    const instances = [
      ...new Set(runs.flatMap((x) => x.spans?.services?.map((s) => s.instance) ?? [])),
    ];
    for (const instance of instances)
      row(instance, (x) => {
        const s = x.spans?.services?.find((q) => q.instance === instance);
        return s ? `${s.exported} / ${s.droppedQueueFull + s.droppedExportFailed}` : 'n/a';
      });
    if (instances.length === 0) row('services', () => 'n/a');
    row('collector accepted / refused / failed', (x) =>
      x.spans?.collector
        ? slash(
            [
              x.spans.collector.receiver_accepted,
              x.spans.collector.receiver_refused,
              x.spans.collector.receiver_failed,
            ],
            0,
          )
        : 'n/a',
    );
    row('collector → Jaeger sent / failed', (x) =>
      x.spans?.collector
        ? slash(
            [
              x.spans.collector.exporter_sent,
              (x.spans.collector.exporter_send_failed ?? 0) +
                (x.spans.collector.exporter_enqueue_failed ?? 0),
            ],
            0,
          )
        : 'n/a',
    );
    row('tail sampling dropped too early / pending', (x) =>
      x.spans?.collector
        ? slash(
            [x.spans.collector.tail_dropped_too_early, x.spans.collector.tail_traces_in_memory],
            0,
          )
        : 'n/a',
    );
    row('Jaeger accepted / refused / stored', (x) =>
      x.spans?.jaeger
        ? slash(
            [
              x.spans.jaeger.receiver_accepted,
              x.spans.jaeger.receiver_refused,
              x.spans.jaeger.exporter_sent,
            ],
            0,
          )
        : 'n/a',
    );
    row('lost anywhere', (x) => num(x.spans?.lost, 0));
  }

  if (runs.some((run) => run.hops)) {
    const hopRuns = runs.filter((x) => x.hops);
    section(
      `per hop, median ms (traces: ${hopRuns.map((x) => `${x.hops!.found} found, ${x.hops!.complete} to the push`).join('; ')})`,
    );
    for (const hop of hopRuns[0]!.hops!.hops)
      row(hop.name, (x) => {
        const h = x.hops?.hops.find((q) => q.name === hop.name);
        return x.hops ? (h?.medianMs == null ? '-' : num(h.medianMs, 2)) : '';
      });
  }

  if (runs.some((run) => run.idle)) {
    section('idle connections to gateway-1');
    row('opened (errors)', (x) => (x.idle ? `${x.idle.opened} (${x.idle.errors})` : 'n/a'));
    row('RSS before / after MiB', (x) =>
      x.idle
        ? slash([x.idle.rssBeforeKb, x.idle.rssAfterKb].map((k) => (k === null ? null : k / 1024)))
        : 'n/a',
    );
    row('KB of gateway memory per connection', (x) => num(x.idle?.collectedKbPerConnection, 2));
    row('  heap in use (after a full GC)', (x) => num(x.idle?.heapKbPerConnection, 2));
    row('  RSS before any GC (garbage included)', (x) => num(x.idle?.kbPerConnection, 2));
  }

  const out = [`tracechat bench: ${describeLoad(options)}`, '', render(header, rows)];

  const floors = report.floors;
  if (floors) {
    const stack = runs[runs.length - 1]!;
    const ws = floors.ws;
    const floorRows: Row[] = [
      { section: 'floors, measured in this run' },
      {
        label: '  delivered msg/s',
        values: [num(stack.load?.deliveredPerSecond), ws ? num(ws.deliveredPerSecond) : 'n/a'],
      },
      {
        label: '  ack p50 / p99 ms',
        values: [
          slash([stack.load?.ack.p50, stack.load?.ack.p99]),
          slash([ws?.ack.p50, ws?.ack.p99]),
        ],
      },
      {
        label: '  send → push p50 / p99 ms',
        values: [
          slash([stack.load?.push.p50, stack.load?.push.p99]),
          slash([ws?.push.p50, ws?.push.p99]),
        ],
      },
      {
        label: `  gRPC bidi msg/s (${floors.grpc?.payloadBytes ?? 200} B, ${floors.grpc?.inFlight ?? 64} in flight)`,
        values: ['', num(floors.grpc?.messagesPerSecond, 0)],
      },
    ];
    out.push(
      '',
      render(
        [
          '',
          `${stack.label} stack`,
          `floor (no-op ws: closed loop ${ws?.sessions ?? 4}×${ws?.inFlight ?? 32})`,
        ],
        floorRows,
      ),
    );
  }

  const errorLines = runs.flatMap((x) =>
    Object.entries(x.load?.errors.byKind ?? {}).map(([kind, n]) => `  ${x.label}: ${kind} × ${n}`),
  );
  if (errorLines.length > 0) out.push('', 'errors by kind:', ...errorLines);
  const notes = [
    ...runs.flatMap((x) =>
      [...x.notes, ...(x.spans?.notes ?? [])].map((n) => `  ${x.label}: ${n}`),
    ),
    ...(floors?.notes ?? []).map((n) => `  ${n}`),
  ];
  if (notes.length > 0) out.push('', 'notes:', ...notes);
  return out.join('\n');
}
