// One run of the bench on a fresh isolated stack: the load, CPU and memory of every process over
// the measured window, then spans, the per-hop breakdown and idle connections.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { signToken, userTokenSecret } from '@tracechat/contracts';
import { startIsolatedStack } from '../isolated';
import { freePort } from '../process';
import type { IsolatedStack } from '../isolated';
import { hopBreakdown, spread } from './hops';
import type { HopBreakdown } from './hops';
import { measureIdleConnections } from './idle';
import type { IdleResult } from './idle';
import { runLoad } from './load';
import type { LoadProgress, LoadResult, LoadRun } from './load';
import { hasLoad } from './options';
import type { BenchOptions } from './options';
import { cpuBetween, memoryOf, sampleCpu, serverGroup, serviceGroup } from './procstat';
import type { CpuSample, CpuUsage, MemoryUsage, ProcessGroup } from './procstat';
import { readSpans } from './spans';
import type { SpanReport } from './spans';
import { round } from './stats';

export interface CpuReport {
  readonly windowSeconds: number;
  /** Every stack process and shared server, ms and % of one core over the window. */
  readonly processes: (CpuUsage & { readonly msPerMessage: number | null })[];
  readonly totalMs: number;
  readonly totalPercent: number;
  /** Total CPU over messages delivered in the window: the cost of one message. */
  readonly msPerMessage: number | null;
  /** The bench's own process (not part of the total): near 100 % means the client is the limit. */
  readonly benchClientPercent: number;
}

export interface RunResult {
  readonly label: 'traced' | 'untraced';
  readonly telemetry: boolean;
  readonly collector: boolean;
  readonly load: LoadResult | null;
  readonly cpu: CpuReport | null;
  readonly memory: MemoryUsage[];
  readonly spans: SpanReport | null;
  readonly hops: HopBreakdown | null;
  readonly idle: IdleResult | null;
  readonly notes: string[];
}

function portOf(url: string, fallback: number): number {
  try {
    return Number(new URL(url).port) || fallback;
  } catch {
    return fallback;
  }
}

export function processGroups(stack: IsolatedStack): ProcessGroup[] {
  return [
    ...[...stack.processes].map(([name, proc]) => serviceGroup(name, () => proc.pid)),
    serverGroup('postgres', 'postgres'),
    serverGroup('redis', 'redis-server', portOf(stack.redisUrl, 6379)),
    serverGroup('nats', 'nats-server', portOf(stack.natsUrl, 4222)),
  ];
}

export async function benchRun(
  options: BenchOptions,
  traced: boolean,
  log: (line: string) => void,
  progress: (label: string, p: LoadProgress) => void,
): Promise<RunResult> {
  const label = traced ? 'traced' : 'untraced';
  const collector = traced && options.collector;
  const notes: string[] = [];
  log(
    `${label}: starting a stack (telemetry ${traced ? 'on' : 'off'}, collector ${collector ? 'on' : 'off'})`,
  );
  // the idle-connection figures ask gateway-1 for a full collection through its inspector
  const inspectorPort = options.idleConnections > 0 ? await freePort() : undefined;
  // the same secret as every other command: AUTH_SECRET, else the development secret
  const authSecret = userTokenSecret(process.env);
  const stack = await startIsolatedStack({
    authSecret,
    databaseBaseUrl: process.env.TEST_DATABASE_BASE_URL || undefined,
    environment: 'bench',
    collector,
    env: traced ? { ...options.env } : { ENABLE_TELEMETRY: 'false', ...options.env },
    serviceEnv: inspectorPort
      ? {
          'gateway-1': {
            NODE_OPTIONS: [process.env.NODE_OPTIONS, `--inspect=127.0.0.1:${inspectorPort}`]
              .filter(Boolean)
              .join(' '),
          },
        }
      : undefined,
    onNotice: (service, message) => log(`${label}: ${service}: ${message}`),
  });
  try {
    const groups = processGroups(stack);
    const token = (user: string) => signToken(user, authSecret, 3600);
    let load: LoadResult | null = null;
    let cpu: CpuReport | null = null;
    let memory: MemoryUsage[] = memoryOf(groups);
    let traceIds: LoadRun['traceIds'] = { delivered: [], undelivered: [] };
    if (hasLoad(options)) {
      let start: { cpu: CpuSample; client: NodeJS.CpuUsage } | undefined;
      let end: { cpu: CpuSample; client: NodeJS.CpuUsage } | undefined;
      log(
        `${label}: ${options.inFlight ? `closed loop, ${options.inFlight} in flight per sender` : `${options.rate} msg/s`} over ${options.sessions} sessions${options.mqtt ? ' (senders on MQTT)' : ''}, ${options.warmup} s warm-up + ${options.seconds} s measured`,
      );
      const run = await runLoad(
        {
          senderUrl: stack.gatewayUrls[0],
          receiverUrl: stack.gatewayUrls[1],
          run: stack.namespace.run,
          token,
          senderMqttUrl: options.mqtt ? `mqtt://127.0.0.1:${stack.ports.mqtt1}` : undefined,
        },
        {
          sessions: options.sessions,
          rate: options.rate,
          inFlight: options.inFlight,
          seconds: options.seconds,
          warmup: options.warmup,
          drainSeconds: options.drain,
          onProgress: (p) => progress(label, p),
          onWindow: (edge) => {
            const sample = { cpu: sampleCpu(groups), client: process.cpuUsage() };
            if (edge === 'start') start = sample;
            else {
              end = sample;
              memory = memoryOf(groups);
            }
          },
        },
      );
      load = run.result;
      traceIds = run.traceIds;
      if (start && end) {
        const usage = cpuBetween(groups, start.cpu, end.cpu);
        const windowMs = end.cpu.at - start.cpu.at;
        const totalMs = usage.reduce((a, u) => a + u.cpuMs, 0);
        const delivered = load.window.delivered;
        const perMessage = (ms: number) => (delivered > 0 ? round(ms / delivered, 3) : null);
        const clientMs =
          (end.client.user + end.client.system - start.client.user - start.client.system) / 1000;
        cpu = {
          windowSeconds: round(windowMs / 1000, 3)!,
          processes: usage.map((u) => ({
            ...u,
            cpuMs: round(u.cpuMs, 1)!,
            cpuPercent: round(u.cpuPercent, 1)!,
            msPerMessage: perMessage(u.cpuMs),
          })),
          totalMs: round(totalMs, 1)!,
          totalPercent: round((totalMs / windowMs) * 100, 1)!,
          msPerMessage: perMessage(totalMs),
          benchClientPercent: round((clientMs / windowMs) * 100, 1)!,
        };
      } else {
        notes.push('CPU n/a: the measured window did not open and close');
      }
    }

    let spans: SpanReport | null = null;
    let hops: HopBreakdown | null = null;
    if (traced) {
      // Spans leave the services every OTEL_BSP_SCHEDULE_DELAY (1 s here) and the span counters
      // every OTEL_METRIC_EXPORT_INTERVAL (5 s): wait for one export of each after the load.
      const metricInterval = Number(options.env.OTEL_METRIC_EXPORT_INTERVAL ?? 5000);
      const countersReady = sleep(1000 + metricInterval + 1500);
      if (load && options.traces > 0) {
        const delivered = spread(traceIds.delivered, options.traces);
        const ids = {
          delivered,
          undelivered: spread(traceIds.undelivered, options.traces - delivered.length),
        };
        if (ids.delivered.length + ids.undelivered.length === 0) {
          notes.push('hop breakdown n/a: no measured message has a trace id');
        } else {
          // the collector's tail sampling holds a trace for its decision wait (5 s)
          log(
            `${label}: fetching ${ids.delivered.length + ids.undelivered.length} traces from Jaeger`,
          );
          await sleep(collector ? 6000 : 1500);
          hops = await hopBreakdown(stack.jaegerUrl, ids, Date.now() + 15_000);
        }
      }
      await countersReady;
      spans = await readSpans({
        metricsUrl: stack.metricsUrl,
        collectorSelfUrl: collector
          ? `http://127.0.0.1:${stack.ports.collectorMetrics}/metrics`
          : undefined,
        jaegerSelfUrl: `http://127.0.0.1:${stack.ports.jaegerMetrics}/metrics`,
      });
    }

    let idle: IdleResult | null = null;
    if (options.idleConnections > 0) {
      log(`${label}: opening ${options.idleConnections} idle connections to gateway-1`);
      const gateway = stack.processes.get('gateway-1');
      idle = await measureIdleConnections({
        url: stack.gatewayUrls[0],
        connections: options.idleConnections,
        pid: () => gateway?.pid,
        inspectorPort,
        token,
        run: stack.namespace.run,
        log: (line) => log(`${label}: ${line}`),
      });
    }
    return {
      label,
      telemetry: traced,
      collector,
      load,
      cpu,
      memory,
      spans,
      hops,
      idle,
      notes,
    };
  } finally {
    const stopping = performance.now();
    await stack.remove();
    log(`${label}: stack removed (${((performance.now() - stopping) / 1000).toFixed(1)} s)`);
  }
}
