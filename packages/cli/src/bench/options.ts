// The bench's options, as the `tracechat bench` command parses them (../program.ts).
import { UsageError } from '../cli-env';

/** What `tracechat bench --help` prints after the options. */
export const USAGE_NOTES = `Each run starts a stack of its own on free ports (own database, stream, Redis keys, journal
folder). Load: per session one sender on gateway-1 and one receiver on gateway-2, each a distinct
user; the sender creates the session public, the receiver joins it and confirms every push
(received). With --rate, latency counts from each message's intended send time.

--mqtt: each sender joins its session on the WebSocket, then publishes over MQTT 5 to
gateway-1's MQTT port (QoS 1 to chat/<session>, the PUBACK is its ack) while receivers stay on the
WebSocket: the latencies are then MQTT publish → WebSocket push, to set beside a run without it.

A gateway allows 50 frames/s per connection by default (RATE_LIMIT_PER_SECOND): keep
rate / sessions below it, or raise it with --env RATE_LIMIT_PER_SECOND=200.

Examples: pnpm bench --rate 300 --seconds 30
          pnpm bench --in-flight 4 --sessions 40 --compare --json > bench.json
          pnpm bench --rate 100 --seconds 10 --mqtt`;

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
  /** Senders publish over MQTT 5 (QoS 1) instead of WebSocket `send` frames. */
  readonly mqtt: boolean;
  readonly env: Record<string, string>;
  readonly json: boolean;
}

/** The command line's values (numbers already checked), as commander hands them over. */
export interface BenchValues {
  readonly sessions?: number;
  readonly rate?: number;
  readonly inFlight?: number;
  readonly seconds?: number;
  readonly warmup?: number;
  readonly drain?: number;
  readonly compare?: boolean;
  readonly collector?: boolean;
  readonly traces?: number;
  readonly idleConnections?: number;
  /** true: --floors, false: --no-floors, unset: with load. */
  readonly floors?: boolean;
  readonly mqtt?: boolean;
  readonly env?: readonly string[];
  readonly json?: boolean;
}

/** The bench's options from the command line's values; throws on a malformed `--env`. */
export function benchOptionsFrom(values: BenchValues): BenchOptions {
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env takes KEY=VALUE, not ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const rate = values.rate ?? 500;
  const load = values.inFlight !== undefined || rate > 0;
  return {
    sessions: values.sessions ?? 20,
    rate,
    inFlight: values.inFlight,
    seconds: values.seconds ?? 15,
    warmup: values.warmup ?? 3,
    drain: values.drain ?? 10,
    compare: values.compare ?? false,
    collector: values.collector ?? true,
    traces: values.traces ?? 50,
    idleConnections: values.idleConnections ?? 0,
    floors: values.floors ?? load,
    mqtt: values.mqtt ?? false,
    env,
    json: values.json ?? false,
  };
}

/** True when the options ask for load (an open-loop rate or a closed loop). */
export function hasLoad(options: BenchOptions): boolean {
  return options.inFlight !== undefined || options.rate > 0;
}
