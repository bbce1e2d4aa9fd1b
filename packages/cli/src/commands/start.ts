// `tracechat start` (`pnpm start`): the whole stack natively on this machine, until Ctrl-C, with a
// line for every start-up step (Jaeger's first build takes minutes) and, with --logs, every
// service's log in one coloured stream.
import { join } from 'node:path';
import { envValue, tokenSecret } from '../cli-env';
import type { Env } from '../cli-env';
import { followLogs, logOffsets } from '../logs';
import { portInUse } from '../process';
import { DEFAULT_PORTS, REPO_ROOT, startStack } from '../stack';
import type { ServiceName, Stack, StackProgress } from '../stack';

export interface StartOptions {
  readonly logs: boolean;
  readonly collector: boolean;
}

const SERVICES: readonly ServiceName[] = [
  'jaeger',
  'collector',
  'placement',
  'journal-1',
  'journal-2',
  'logic',
  'task',
  'gateway-1',
  'gateway-2',
];

const WHAT: Partial<Record<ServiceName, string>> = {
  logic: 'logic (applies the database migrations)',
};

const say = (line: string) => console.log(`tracechat: ${line}`);

/** Prints the start-up steps; while Jaeger builds, a line every 15 s with the time so far. */
function progressPrinter(): { onProgress: (event: StackProgress) => void; done: () => void } {
  let building: { since: number; steps: number; timer: NodeJS.Timeout } | undefined;
  const stopBuilding = () => {
    if (building) clearInterval(building.timer);
    building = undefined;
  };
  const onProgress = (event: StackProgress) => {
    switch (event.step) {
      case 'database':
        say(`database ${event.database}: creating it if missing`);
        break;
      case 'jaeger-build': {
        if (!building) {
          say(
            'building Jaeger v2 from source with Go: slow the first time (several minutes), cached afterwards in ~/.cache/tracechat',
          );
          const since = Date.now();
          building = {
            since,
            steps: 0,
            timer: setInterval(() => {
              const seconds = Math.round((Date.now() - since) / 1000);
              say(
                `still building Jaeger: ${seconds} s so far${building && building.steps > 0 ? `, ${building.steps} modules fetched` : ''}`,
              );
            }, 15_000),
          };
        }
        if (/^go: downloading /.test(event.line)) building.steps++;
        else say(`  ${event.line.replace(/^build-jaeger: /, '')}`);
        break;
      }
      case 'jaeger-ready':
        stopBuilding();
        say(
          event.seconds >= 2
            ? `Jaeger built in ${event.seconds.toFixed(0)} s: ${event.binary}`
            : `Jaeger: ${event.binary}`,
        );
        break;
      case 'starting':
        say(`starting ${event.services.map((s) => WHAT[s] ?? s).join(', ')}…`);
        break;
      case 'ready':
        say(`  ${event.service} ready (${event.seconds.toFixed(1)} s)`);
        break;
    }
  };
  return { onProgress, done: stopBuilding };
}

export async function start(options: StartOptions, env: Env): Promise<void> {
  // --no-collector (or TRACECHAT_COLLECTOR=off): no tail sampling, every trace kept, for debugging
  const collector = options.collector && env.TRACECHAT_COLLECTOR !== 'off';
  const authSecret = tokenSecret(env);
  const busy: string[] = [];
  for (const [name, port] of Object.entries(DEFAULT_PORTS)) {
    if (!collector && name.startsWith('collector')) continue;
    if (await portInUse(port)) busy.push(`${name} (:${port})`);
  }
  if (busy.length > 0)
    throw new Error(
      `ports already in use: ${busy.join(', ')}. Is another stack running? Stop it (Ctrl-C in its terminal) first.`,
    );
  const logDir = join(REPO_ROOT, '.stack', 'logs');
  const sources = SERVICES.filter((s) => collector || s !== 'collector').map((name) => ({
    name,
    path: join(logDir, `${name}.log`),
  }));
  const offsets = logOffsets(sources);
  say(
    `starting Jaeger, ${collector ? 'the collector tier, ' : ''}placement, two journal nodes, logic, task and two gateways (logs in ${logDir})`,
  );
  const started = Date.now();
  const printer = progressPrinter();
  let stack: Stack;
  try {
    stack = await startStack({
      collector,
      logDir,
      authSecret,
      databaseUrl: envValue(env, 'DATABASE_URL', '') || undefined,
      redisUrl: envValue(env, 'REDIS_URL', '') || undefined,
      natsUrl: envValue(env, 'NATS_URL', '') || undefined,
      onProgress: printer.onProgress,
      // the supervisor restarts a crashed service with backoff, and says so
      onNotice: (_service, message) => console.error(`tracechat: ${message}`),
    });
  } catch (err) {
    throw new Error(`the stack did not start:\n${(err as Error).message}`);
  } finally {
    printer.done();
  }
  const p = stack.ports;
  console.log(`
tracechat is up (${((Date.now() - started) / 1000).toFixed(1)} s)

  web chat    http://127.0.0.1:${p.gateway1}/   (gateway-2: http://127.0.0.1:${p.gateway2}/)
  Jaeger API  ${stack.jaegerUrl}/api/traces/<trace id>   (query API; the terminal waterfall: pnpm trace <message id>)
  gateway-1   ${stack.gatewayUrls[0]}   (health http://127.0.0.1:${p.gateway1}/readyz, push gRPC :${p.push1})
  gateway-2   ${stack.gatewayUrls[1]}   (health http://127.0.0.1:${p.gateway2}/readyz, push gRPC :${p.push2})
  MQTT 5      ${stack.mqttUrls[0]}   (gateway-2: ${stack.mqttUrls[1]}; over WebSocket: ws://127.0.0.1:${p.gateway1}/mqtt; username = user id, password = token)
  logic       127.0.0.1:${p.logic} (gRPC)
  placement   127.0.0.1:${p.placement} (gRPC)   journal-1 127.0.0.1:${p.journal1}   journal-2 127.0.0.1:${p.journal2}   (data in ${stack.dataDir})
  OTLP        ${stack.otlpEndpoint}   (${collector ? 'collector tier: tail sampling keeps errors, slow and debug traces and TRACECHAT_TAIL_SAMPLE_PERCENT of the rest' : 'straight to Jaeger: every trace kept'})
${
  collector
    ? `  metrics     ${stack.metricsUrl}   (span metrics and service metrics, Prometheus format)
`
    : ''
}  admin       ${stack.adminUrls[0]}/admin/sampling/whitelist (gateway-2: ${stack.adminUrls[1]}; Authorization: Bearer ${stack.adminToken})
  logs        ${stack.logDir}${options.logs ? '   (followed below)' : '   (pnpm start --logs follows them all)'}

  chat:   pnpm chat --user alice --session lobby      (another terminal: --user bob)
  send:   pnpm send --user alice --session lobby "hello"
  trace:  pnpm trace <message id>
  token:  pnpm -s token alice
  Ctrl-C stops everything.
`);
  const stopFollowing = options.logs
    ? followLogs(sources, (text) => process.stdout.write(text), {
        color: process.stdout.isTTY === true,
        offsets,
      })
    : () => undefined;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      stopFollowing();
      console.log('\ntracechat: stopping…');
      void stack
        .stop()
        .then(() => console.log('tracechat: stopped'))
        .finally(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
