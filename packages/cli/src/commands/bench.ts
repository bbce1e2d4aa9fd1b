// `tracechat bench` (`pnpm bench …`): the load bench. Starts a stack of its own on free ports,
// drives an open- or closed-loop load through both gateways and prints latency, throughput,
// errors, CPU and memory of every process, spans exported and lost, the per-hop breakdown and the
// floors of the machine; `--compare` runs it untraced and traced. The options are declared in
// ../program.ts; the modules are in ../bench.
import { measureFloors } from '../bench/floors';
import type { LoadProgress } from '../bench/load';
import { hasLoad } from '../bench/options';
import type { BenchOptions } from '../bench/options';
import { formatReport, ratios } from '../bench/report';
import type { BenchReport } from '../bench/report';
import { benchRun } from '../bench/run';
import type { RunResult } from '../bench/run';

/** The gateway's default frame rate per connection (RATE_LIMIT_PER_SECOND). */
const GATEWAY_RATE_LIMIT = 50;

export async function bench(options: BenchOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const tty = process.stderr.isTTY === true;
  let progressShown = false;
  const progress = (label: string, p: LoadProgress) => {
    const line =
      `bench: ${label} ${p.elapsedSeconds.toFixed(0).padStart(3)} s ${p.phase.padEnd(9)} ` +
      `sent ${p.sent}  acked ${p.acked}  delivered ${p.delivered}  errors ${p.errors}  ` +
      `${p.deliveredPerSecond} msg/s`;
    if (tty) {
      process.stderr.write(`\r\x1b[2K${line}`);
      progressShown = true;
    } else {
      process.stderr.write(`${line}\n`);
    }
  };
  const logLine = (line: string) => {
    if (progressShown) process.stderr.write('\n');
    progressShown = false;
    log(line);
  };

  const limit = Number(options.env.RATE_LIMIT_PER_SECOND ?? GATEWAY_RATE_LIMIT);
  if (!options.inFlight && options.rate / options.sessions > limit)
    logLine(
      `warning: ${(options.rate / options.sessions).toFixed(0)} msg/s per sender is above the gateway's limit of ${limit} frames/s per connection; expect RATE_LIMITED errors (use more --sessions or --env RATE_LIMIT_PER_SECOND=…)`,
    );
  if (!hasLoad(options) && options.idleConnections === 0 && !options.floors)
    logLine('nothing to measure: --rate 0 without --idle-connections or --floors');

  const runs: RunResult[] = [];
  if (options.compare) runs.push(await benchRun(options, false, logLine, progress));
  runs.push(await benchRun(options, true, logLine, progress));
  const floors = options.floors ? await measureFloors(logLine) : null;
  if (progressShown) process.stderr.write('\n');

  const report: BenchReport = {
    options: {
      sessions: options.sessions,
      rate: options.rate,
      inFlight: options.inFlight ?? null,
      seconds: options.seconds,
      warmup: options.warmup,
      drain: options.drain,
      compare: options.compare,
      collector: options.collector,
      traces: options.traces,
      idleConnections: options.idleConnections,
      floors: options.floors,
      mqtt: options.mqtt,
      env: options.env,
    },
    runs,
    ratios: options.compare ? ratios(runs[0]!, runs[1]!) : null,
    floors,
  };
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else console.log(`\n${formatReport(report, options)}`);
}
