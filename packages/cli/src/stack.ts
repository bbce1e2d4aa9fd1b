import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEV_AUTH_SECRET } from '@tracechat/contracts';
import { ensureDatabase } from '@tracechat/postgres';
import { DEFAULT_RESTART_POLICY, ManagedProcess, PortInUse, freePorts } from './process';
import type { ProcessSpec, RestartPolicy } from './process';

/** The repository root (this file is packages/cli/dist/stack.js). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export interface StackPorts {
  readonly gateway1: number;
  readonly gateway2: number;
  /** The gateways' MQTT 5 listeners (plain TCP; 1883 is left to any local broker). */
  readonly mqtt1: number;
  readonly mqtt2: number;
  readonly push1: number;
  readonly push2: number;
  /** The gateways' admin API (a port of its own, on 127.0.0.1). */
  readonly admin1: number;
  readonly admin2: number;
  readonly logic: number;
  readonly logicHealth: number;
  readonly taskHealth: number;
  readonly placement: number;
  readonly placementHealth: number;
  readonly journal1: number;
  readonly journal1Health: number;
  readonly journal2: number;
  readonly journal2Health: number;
  readonly jaegerQuery: number;
  readonly jaegerQueryGrpc: number;
  /** Where services send OTLP: the collector tier, or Jaeger itself when that tier is off. */
  readonly otlpHttp: number;
  readonly otlpGrpc: number;
  /** Jaeger's own OTLP receiver behind the collector tier. */
  readonly jaegerOtlpHttp: number;
  readonly jaegerOtlpGrpc: number;
  readonly jaegerHealth: number;
  readonly jaegerMetrics: number;
  readonly collectorHealth: number;
  readonly collectorPrometheus: number;
  readonly collectorMetrics: number;
}

/** The ports `pnpm start` uses (docs/architecture.md, ports). */
export const DEFAULT_PORTS: StackPorts = {
  gateway1: 8080,
  gateway2: 8081,
  mqtt1: 1884,
  mqtt2: 1885,
  push1: 50051,
  push2: 50061,
  admin1: 8090,
  admin2: 8091,
  logic: 50052,
  logicHealth: 9152,
  taskHealth: 9153,
  placement: 50053,
  placementHealth: 9154,
  journal1: 50054,
  journal1Health: 9155,
  journal2: 50064,
  journal2Health: 9165,
  jaegerQuery: 16686,
  jaegerQueryGrpc: 16685,
  otlpHttp: 4318,
  otlpGrpc: 4317,
  jaegerOtlpHttp: 14318,
  jaegerOtlpGrpc: 14317,
  jaegerHealth: 13133,
  jaegerMetrics: 8888,
  collectorHealth: 13134,
  collectorPrometheus: 8889,
  collectorMetrics: 8887,
};

export interface StackOptions {
  /**
   * Fixed ports, or 'free' to pick unused ones (tests). Free ports are chosen by the kernel and
   * then handed to the services, so another process can take one in between: a start that fails
   * on a port in use is retried with new ports.
   */
  readonly ports?: StackPorts | 'free';
  readonly databaseUrl?: string;
  readonly redisUrl?: string;
  readonly natsUrl?: string;
  /** JetStream stream and subject prefix; tests use their own so runs never meet. */
  readonly natsStream?: string;
  readonly natsSubjectPrefix?: string;
  /** task's durable JetStream consumer. */
  readonly natsConsumer?: string;
  /** Put before every Redis key the services write (presence, whitelist, caches); tests use one per run. */
  readonly redisKeyPrefix?: string;
  readonly gatewayIds?: readonly [string, string];
  readonly logDir?: string;
  /**
   * Where journal nodes keep their shards (one folder per node). Default: outside the checkout,
   * `$XDG_DATA_HOME/tracechat/<database>` (`~/.local/share/…`), so it lives as long as the
   * database whose rows point into it, whichever clone starts the stack.
   */
  readonly dataDir?: string;
  readonly environment?: string;
  /** Extra env for every service (e.g. sampling settings), and per service. */
  readonly env?: Record<string, string>;
  readonly serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** How often services export spans; short in tests so traces arrive quickly. */
  readonly spanExportDelayMs?: number;
  /**
   * Run the collector tier (tail sampling, span metrics) between the services and Jaeger.
   * Off: services export straight to Jaeger and every trace is kept (for debugging).
   */
  readonly collector?: boolean;
  /** Collector settings (TAIL_DECISION_WAIT, TRACECHAT_TAIL_SAMPLE_PERCENT, …). */
  readonly collectorEnv?: Record<string, string>;
  /**
   * Restart a process that exits on its own, with backoff (default on, like compose's
   * `restart: unless-stopped`); `stopService` never triggers it. `false` turns it off.
   */
  readonly restart?: RestartPolicy | false;
  /** Hears the supervisor's notices ("logic exited (SIGKILL); restarting in 500 ms"). */
  readonly onNotice?: (service: ServiceName, message: string) => void;
  /**
   * Hears each start-up step as it begins and ends (the database, Jaeger's build with the build
   * script's own lines, every service's start and readiness), for a progress display.
   */
  readonly onProgress?: (event: StackProgress) => void;
  /**
   * The gateways' AUTH_SECRET (client tokens). Default: the development secret; `tracechat start`
   * passes `userTokenSecret(env)` so its tokens and the stack's agree.
   */
  readonly authSecret?: string;
}

/** One step of a stack's start, as `onProgress` hears it. */
export type StackProgress =
  | { readonly step: 'database'; readonly database: string }
  | { readonly step: 'jaeger-build'; readonly line: string }
  | { readonly step: 'jaeger-ready'; readonly binary: string; readonly seconds: number }
  | { readonly step: 'starting'; readonly services: readonly ServiceName[] }
  | { readonly step: 'ready'; readonly service: ServiceName; readonly seconds: number };

export type ServiceName =
  | 'jaeger'
  | 'collector'
  | 'placement'
  | 'journal-1'
  | 'journal-2'
  | 'logic'
  | 'task'
  | 'gateway-1'
  | 'gateway-2';

export interface Stack {
  readonly ports: StackPorts;
  readonly gatewayUrls: readonly [string, string];
  /** The gateways' MQTT 5 listeners (`mqtt://127.0.0.1:1884`); MQTT over WebSocket is `/mqtt`. */
  readonly mqttUrls: readonly [string, string];
  /** The gateways' admin API base URLs (`http://127.0.0.1:8090`); paths start with `/admin`. */
  readonly adminUrls: readonly [string, string];
  readonly jaegerUrl: string;
  readonly otlpEndpoint: string;
  /** The collector's Prometheus endpoint (span metrics and service metrics), when it runs. */
  readonly metricsUrl: string | undefined;
  readonly adminToken: string;
  /**
   * SERVICE_SECRET of this stack's services, new at every start (restarts by the supervisor
   * keep it); tools that call a service over gRPC sign their tokens with it.
   */
  readonly serviceSecret: string;
  readonly databaseUrl: string;
  readonly natsStream: string;
  readonly natsSubjectPrefix: string;
  readonly natsConsumer: string;
  readonly redisUrl: string;
  readonly natsUrl: string;
  readonly redisKeyPrefix: string;
  readonly gatewayIds: readonly [string, string];
  readonly logDir: string;
  readonly dataDir: string;
  readonly processes: ReadonlyMap<ServiceName, ManagedProcess>;
  /**
   * Stops one service (SIGTERM) or kills it (SIGKILL), on purpose: it stays down until
   * `startService` brings it back.
   */
  stopService(name: ServiceName, how?: 'term' | 'kill'): Promise<void>;
  /**
   * Kills one service with SIGKILL as a crash would; the supervisor restarts it (resolves once it
   * is ready again). Without a restart policy it stays down.
   */
  crashService(name: ServiceName): Promise<void>;
  startService(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Builds Jaeger if it is not cached yet and returns the binary's path. The build script's progress
 * lines (stderr) go to `onLine` as they come; a first build takes minutes.
 */
export function jaegerBinary(onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolvePath, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'build-jaeger.sh')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), 30 * 60 * 1000);
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stderr = (stderr + text).slice(-16_384);
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line.trim() !== '') onLine?.(line);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const path = stdout.trim().split('\n').pop();
      if (code === 0 && path) resolvePath(path);
      else
        reject(
          new Error(
            `scripts/build-jaeger.sh failed (${signal ?? `exit ${code}`}):\n${stderr.trim()}`,
          ),
        );
    });
  });
}

async function pickPorts(): Promise<StackPorts> {
  const names = Object.keys(DEFAULT_PORTS) as (keyof StackPorts)[];
  const ports = await freePorts(names.length);
  return Object.fromEntries(names.map((name, i) => [name, ports[i]!])) as unknown as StackPorts;
}

/**
 * `TRACECHAT_CPU_PROF_DIR=<dir>` makes every service write a V8 CPU profile into it when it stops
 * (Node 20 refuses `--cpu-prof` in NODE_OPTIONS, so the runner passes it on the command line).
 */
function profileArgs(): string[] {
  const dir = process.env.TRACECHAT_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(dir)}`] : [];
}

function service(app: string): { cwd: string; args: string[] } {
  const cwd = join(REPO_ROOT, 'apps', app);
  return {
    cwd,
    args: [
      ...profileArgs(),
      '--require',
      '@tracechat/telemetry/register',
      join(cwd, 'dist', 'main.js'),
    ],
  };
}

/**
 * Starts Jaeger and every service natively, in dependency order, and waits until each is ready.
 * Creates the database first; logic applies migrations when it starts.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  if (options.ports !== 'free') return startOnPorts(options, options.ports ?? DEFAULT_PORTS);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnPorts(options, await pickPorts());
    } catch (err) {
      if (!(err instanceof PortInUse) || attempt >= 3) throw err;
    }
  }
}

async function startOnPorts(options: StackOptions, ports: StackPorts): Promise<Stack> {
  const databaseUrl = options.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/tracechat';
  const natsStream = options.natsStream ?? 'CHAT';
  const natsSubjectPrefix = options.natsSubjectPrefix ?? 'chat.msg';
  const natsConsumer = options.natsConsumer ?? 'task';
  const redisUrl = options.redisUrl ?? 'redis://127.0.0.1:6379';
  const natsUrl = options.natsUrl ?? 'nats://127.0.0.1:4222';
  const redisKeyPrefix = options.redisKeyPrefix ?? '';
  const gatewayIds = options.gatewayIds ?? (['gateway-1', 'gateway-2'] as const);
  const logDir = options.logDir ?? join(REPO_ROOT, '.stack', 'logs');
  mkdirSync(logDir, { recursive: true });
  const dataDir =
    options.dataDir ??
    join(
      process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'),
      'tracechat',
      decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || 'tracechat',
    );
  mkdirSync(dataDir, { recursive: true });
  const progress = options.onProgress ?? (() => undefined);
  progress({ step: 'database', database: new URL(databaseUrl).pathname.slice(1) });
  await ensureDatabase(databaseUrl);

  const collector = options.collector ?? true;
  const otlpEndpoint = `http://127.0.0.1:${ports.otlpHttp}`;
  const adminToken = 'tracechat-dev-admin-token';
  const serviceSecret = options.env?.SERVICE_SECRET ?? randomBytes(32).toString('base64url');
  const common: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    NATS_URL: natsUrl,
    NATS_STREAM: natsStream,
    NATS_SUBJECT_PREFIX: natsSubjectPrefix,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
    OTEL_BSP_SCHEDULE_DELAY: String(options.spanExportDelayMs ?? 1000),
    ENVIRONMENT: options.environment ?? 'development',
    AUTH_SECRET: options.authSecret ?? DEV_AUTH_SECRET,
    // every client of the native stack (bench, soak, tests) comes from 127.0.0.1
    WS_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    SERVICE_SECRET: serviceSecret,
    // Jaeger stores traces only: metrics go out when the collector tier is there to take them.
    OTEL_METRICS_EXPORTER: collector ? 'otlp' : 'none',
    OTEL_METRIC_EXPORT_INTERVAL: '5000',
    ...options.env,
  };
  const buildStarted = Date.now();
  const jaegerBin = await jaegerBinary((line) => progress({ step: 'jaeger-build', line }));
  progress({
    step: 'jaeger-ready',
    binary: jaegerBin,
    seconds: (Date.now() - buildStarted) / 1000,
  });
  const restart =
    options.restart === false ? undefined : (options.restart ?? DEFAULT_RESTART_POLICY);
  /** Every process is supervised the same way. */
  const supervised = (spec: Omit<ProcessSpec, 'restart' | 'onNotice'>): ManagedProcess =>
    new ManagedProcess({
      ...spec,
      restart,
      onNotice: (message) => options.onNotice?.(spec.name as ServiceName, message),
    });
  const specs: Record<ServiceName, ManagedProcess> = {
    jaeger: supervised({
      name: 'jaeger',
      command: jaegerBin,
      args: ['--config', join(REPO_ROOT, 'deploy', 'jaeger', 'jaeger.yaml')],
      cwd: REPO_ROOT,
      env: {
        // half as many collections for a bigger heap: both Go processes spend a tenth of their
        // time in the collector at a few thousand spans a second (docs/architecture.md)
        GOGC: process.env.GOGC || '200',
        JAEGER_QUERY_PORT: String(ports.jaegerQuery),
        JAEGER_QUERY_GRPC_PORT: String(ports.jaegerQueryGrpc),
        JAEGER_OTLP_HTTP_PORT: String(collector ? ports.jaegerOtlpHttp : ports.otlpHttp),
        JAEGER_OTLP_GRPC_PORT: String(collector ? ports.jaegerOtlpGrpc : ports.otlpGrpc),
        JAEGER_HEALTH_PORT: String(ports.jaegerHealth),
        JAEGER_METRICS_PORT: String(ports.jaegerMetrics),
      },
      logFile: join(logDir, 'jaeger.log'),
      readyUrl: `http://127.0.0.1:${ports.jaegerHealth}/status`,
    }),
    collector: supervised({
      name: 'collector',
      command: jaegerBin,
      args: [
        '--config',
        join(REPO_ROOT, 'deploy', 'collector', 'collector.yaml'),
        '--config',
        join(REPO_ROOT, 'deploy', 'collector', 'health-jaeger.yaml'),
      ],
      cwd: REPO_ROOT,
      env: {
        GOGC: process.env.GOGC || '200',
        COLLECTOR_OTLP_HTTP_PORT: String(ports.otlpHttp),
        COLLECTOR_OTLP_GRPC_PORT: String(ports.otlpGrpc),
        COLLECTOR_HEALTH_PORT: String(ports.collectorHealth),
        COLLECTOR_PROMETHEUS_PORT: String(ports.collectorPrometheus),
        COLLECTOR_METRICS_PORT: String(ports.collectorMetrics),
        JAEGER_OTLP_ENDPOINT: `127.0.0.1:${ports.jaegerOtlpGrpc}`,
        ...options.collectorEnv,
      },
      logFile: join(logDir, 'collector.log'),
      readyUrl: `http://127.0.0.1:${ports.collectorHealth}/status`,
    }),
    placement: supervised({
      name: 'placement',
      command: process.execPath,
      ...service('placement'),
      env: {
        ...common,
        SERVICE_INSTANCE_ID: 'placement-1',
        PLACEMENT_GRPC_ADDRESS: `127.0.0.1:${ports.placement}`,
        HEALTH_PORT: String(ports.placementHealth),
        ...options.serviceEnv?.placement,
      },
      logFile: join(logDir, 'placement.log'),
      readyUrl: `http://127.0.0.1:${ports.placementHealth}/readyz`,
    }),
    'journal-1': journalProcess(1),
    'journal-2': journalProcess(2),
    logic: supervised({
      name: 'logic',
      command: process.execPath,
      ...service('logic'),
      env: {
        ...common,
        SERVICE_INSTANCE_ID: 'logic-1',
        LOGIC_GRPC_ADDRESS: `127.0.0.1:${ports.logic}`,
        PLACEMENT_ADDRESS: `127.0.0.1:${ports.placement}`,
        HEALTH_PORT: String(ports.logicHealth),
        ...options.serviceEnv?.logic,
      },
      logFile: join(logDir, 'logic.log'),
      readyUrl: `http://127.0.0.1:${ports.logicHealth}/readyz`,
    }),
    task: supervised({
      name: 'task',
      command: process.execPath,
      ...service('task'),
      env: {
        ...common,
        SERVICE_INSTANCE_ID: 'task-1',
        LOGIC_ADDRESS: `127.0.0.1:${ports.logic}`,
        HEALTH_PORT: String(ports.taskHealth),
        RETRY_DELAY_MS: '500',
        NATS_CONSUMER: natsConsumer,
        ...options.serviceEnv?.task,
      },
      logFile: join(logDir, 'task.log'),
      readyUrl: `http://127.0.0.1:${ports.taskHealth}/readyz`,
    }),
    'gateway-1': gatewayProcess(1),
    'gateway-2': gatewayProcess(2),
  };

  function journalProcess(n: 1 | 2): ManagedProcess {
    const name: ServiceName = n === 1 ? 'journal-1' : 'journal-2';
    const port = n === 1 ? ports.journal1 : ports.journal2;
    const health = n === 1 ? ports.journal1Health : ports.journal2Health;
    return supervised({
      name,
      command: process.execPath,
      ...service('journal'),
      env: {
        ...common,
        SERVICE_INSTANCE_ID: name,
        JOURNAL_NODE_ID: name,
        JOURNAL_GRPC_ADDRESS: `127.0.0.1:${port}`,
        JOURNAL_DATA_DIR: join(dataDir, name),
        PLACEMENT_ADDRESS: `127.0.0.1:${ports.placement}`,
        HEALTH_PORT: String(health),
        ...options.serviceEnv?.[name],
      },
      logFile: join(logDir, `${name}.log`),
      readyUrl: `http://127.0.0.1:${health}/readyz`,
    });
  }

  function gatewayProcess(n: 1 | 2): ManagedProcess {
    const port = n === 1 ? ports.gateway1 : ports.gateway2;
    const push = n === 1 ? ports.push1 : ports.push2;
    const admin = n === 1 ? ports.admin1 : ports.admin2;
    const mqtt = n === 1 ? ports.mqtt1 : ports.mqtt2;
    const name: ServiceName = n === 1 ? 'gateway-1' : 'gateway-2';
    return supervised({
      name,
      command: process.execPath,
      ...service('gateway'),
      env: {
        ...common,
        SERVICE_INSTANCE_ID: gatewayIds[n - 1],
        GATEWAY_ID: gatewayIds[n - 1],
        GATEWAY_PORT: String(port),
        MQTT_PORT: String(mqtt),
        PUSH_GRPC_ADDRESS: `127.0.0.1:${push}`,
        LOGIC_ADDRESS: `127.0.0.1:${ports.logic}`,
        ADMIN_TOKEN: adminToken,
        ADMIN_PORT: String(admin),
        // the trace endpoint reads this stack's Jaeger; JAEGER_UI_URL stays unset (no real UI)
        JAEGER_QUERY_URL: `http://127.0.0.1:${ports.jaegerQuery}`,
        ...options.serviceEnv?.[name],
      },
      logFile: join(logDir, `${name}.log`),
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
  }

  const started: ManagedProcess[] = [];
  const stopAll = async () => {
    for (const proc of [...started].reverse()) await proc.stop();
  };
  try {
    const groups: ServiceName[][] = [
      collector ? ['jaeger', 'collector'] : ['jaeger'],
      ['placement'],
      ['journal-1', 'journal-2'],
      ['logic'],
      ['task', 'gateway-1', 'gateway-2'],
    ];
    for (const group of groups) {
      progress({ step: 'starting', services: group });
      await Promise.all(
        group.map(async (name) => {
          const since = Date.now();
          await specs[name].start();
          started.push(specs[name]);
          progress({ step: 'ready', service: name, seconds: (Date.now() - since) / 1000 });
        }),
      );
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    ports,
    gatewayUrls: [`ws://127.0.0.1:${ports.gateway1}/ws`, `ws://127.0.0.1:${ports.gateway2}/ws`],
    mqttUrls: [`mqtt://127.0.0.1:${ports.mqtt1}`, `mqtt://127.0.0.1:${ports.mqtt2}`],
    adminUrls: [`http://127.0.0.1:${ports.admin1}`, `http://127.0.0.1:${ports.admin2}`],
    jaegerUrl: `http://127.0.0.1:${ports.jaegerQuery}`,
    otlpEndpoint,
    metricsUrl: collector ? `http://127.0.0.1:${ports.collectorPrometheus}/metrics` : undefined,
    adminToken,
    serviceSecret,
    databaseUrl,
    natsStream,
    natsSubjectPrefix,
    natsConsumer,
    redisUrl,
    natsUrl,
    redisKeyPrefix,
    gatewayIds,
    logDir,
    dataDir,
    processes: new Map(
      (Object.entries(specs) as [ServiceName, ManagedProcess][]).filter(
        ([name]) => collector || name !== 'collector',
      ),
    ),
    stopService: (name, how = 'term') => (how === 'kill' ? specs[name].kill() : specs[name].stop()),
    startService: (name) => specs[name].start(),
    crashService: async (name) => {
      const restarted = restart ? specs[name].waitRestarted() : Promise.resolve();
      await specs[name].crash();
      await restarted;
    },
    stop: async () => {
      // services first, so their last spans reach Jaeger, which stops last
      const order: ServiceName[] = [
        'gateway-1',
        'gateway-2',
        'task',
        'logic',
        'journal-1',
        'journal-2',
        'placement',
        'collector',
        'jaeger',
      ];
      for (const name of order) {
        await specs[name].stop();
      }
    },
  };
}
