import { parseArgs } from 'node:util';

export const USAGE = `usage: tracechat bench [options]        (pnpm bench [options])

Starts a stack of its own on free ports (own database, stream, Redis keys, journal folder),
drives chat traffic through it and prints latency, throughput, errors, CPU and memory of every
process, spans exported and lost, where a message's time goes, and the floors of the machine.

Load: per session one sender on gateway-1 and one receiver on gateway-2, each a distinct user;
the sender creates the session public, the receiver joins it and confirms every push (received).

  --sessions N          sessions (sender + receiver pairs)                          [20]
  --rate R              total messages/s over all sessions, open loop; latency counts
                        from each message's intended send time. 0: no load           [500]
  --in-flight K         closed loop instead: each sender keeps K sends waiting for
                        their ack, as fast as the stack answers (saturation runs)
  --seconds S           measured seconds                                             [15]
  --warmup W            seconds of load before, whose samples are discarded          [3]
  --drain D             longest wait after the last send for acks and pushes         [10]
  --compare             run the load twice, each on a fresh stack: untraced
                        (ENABLE_TELEMETRY=false, no collector), then traced, and print
                        both with the ratios traced/untraced
  --no-collector        services export straight to Jaeger (no collector tier)
  --traces N            measured messages whose traces give the per-hop breakdown   [50]
  --idle-connections N  afterwards open N idle authenticated connections to gateway-1
                        and print its memory per connection after a full GC (asked
                        through its inspector on loopback) and before; --rate 0: alone  [0]
  --floors, --no-floors measure the floors (no-op WebSocket server, bare gRPC stream)
                        in the same run; on by default when there is load
  --env KEY=VALUE       extra environment for every service (repeatable), e.g.
                        --env RATE_LIMIT_PER_SECOND=200
  --json                print one JSON object with every figure (and nothing else) on
                        stdout; progress stays on stderr
  --help                this text

A gateway allows 50 frames/s per connection by default (RATE_LIMIT_PER_SECOND): keep
rate / sessions below it, or raise it with --env.`;

export interface BenchOptions {
  readonly sessions: number;
  readonly rate: number;
  readonly inFlight: number | undefined;
  readonly seconds: number;
  readonly warmup: number;
  readonly drain: number;
  readonly compare: boolean;
  readonly collector: boolean;
  readonly traces: number;
  readonly idleConnections: number;
  readonly floors: boolean;
  readonly env: Record<string, string>;
  readonly json: boolean;
  readonly help: boolean;
}

function number(
  name: string,
  value: string | undefined,
  fallback: number,
  { min = 0, integer = false }: { min?: number; integer?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    throw new Error(
      `--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, not ${JSON.stringify(value)}`,
    );
  return n;
}

export function parseBenchArgs(args: readonly string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      sessions: { type: 'string' },
      rate: { type: 'string' },
      'in-flight': { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      drain: { type: 'string' },
      compare: { type: 'boolean' },
      'no-collector': { type: 'boolean' },
      traces: { type: 'string' },
      'idle-connections': { type: 'string' },
      floors: { type: 'boolean' },
      'no-floors': { type: 'boolean' },
      env: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
  if (values.floors && values['no-floors'])
    throw new Error('--floors and --no-floors contradict each other');
  const inFlight =
    values['in-flight'] === undefined
      ? undefined
      : number('in-flight', values['in-flight'], 0, { min: 1, integer: true });
  const rate = number('rate', values.rate, 500);
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--env takes KEY=VALUE, not ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const load = inFlight !== undefined || rate > 0;
  return {
    sessions: number('sessions', values.sessions, 20, { min: 1, integer: true }),
    rate,
    inFlight,
    seconds: number('seconds', values.seconds, 15, { min: 0.1 }),
    warmup: number('warmup', values.warmup, 3),
    drain: number('drain', values.drain, 10),
    compare: values.compare ?? false,
    collector: !values['no-collector'],
    traces: number('traces', values.traces, 50, { integer: true }),
    idleConnections: number('idle-connections', values['idle-connections'], 0, { integer: true }),
    floors: values['no-floors'] ? false : (values.floors ?? load),
    env,
    json: values.json ?? false,
    help: values.help ?? false,
  };
}

/** True when the options ask for load (an open-loop rate or a closed loop). */
export function hasLoad(options: BenchOptions): boolean {
  return options.inFlight !== undefined || options.rate > 0;
}
