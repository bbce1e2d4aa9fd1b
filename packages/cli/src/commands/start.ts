// `tracechat start` (`pnpm start`): the whole stack natively on this machine, until Ctrl-C.
import { portInUse } from '../process';
import { DEFAULT_PORTS, startStack } from '../stack';
import type { Stack } from '../stack';

export async function start(args: readonly string[]): Promise<void> {
  // --no-collector (or TRACECHAT_COLLECTOR=off): no tail sampling, every trace kept, for debugging
  const collector = !args.includes('--no-collector') && process.env.TRACECHAT_COLLECTOR !== 'off';
  const busy: string[] = [];
  for (const [name, port] of Object.entries(DEFAULT_PORTS)) {
    if (!collector && name.startsWith('collector')) continue;
    if (await portInUse(port)) busy.push(`${name} (:${port})`);
  }
  if (busy.length > 0) {
    console.error(`tracechat: ports already in use: ${busy.join(', ')}. Is another stack running?`);
    process.exit(1);
  }
  console.log(
    `tracechat: starting Jaeger, ${collector ? 'the collector tier, ' : ''}placement, two journal nodes, logic, task and two gateways (building Jaeger the first time)…`,
  );
  const started = Date.now();
  let stack: Stack;
  try {
    stack = await startStack({
      collector,
      // the supervisor restarts a crashed service with backoff, and says so
      onNotice: (_service, message) => console.error(`tracechat: ${message}`),
    });
  } catch (err) {
    console.error(`tracechat: the stack did not start:\n${(err as Error).message}`);
    process.exit(1);
  }
  const p = stack.ports;
  console.log(`
tracechat is up (${((Date.now() - started) / 1000).toFixed(1)} s)

  gateway-1   ${stack.gatewayUrls[0]}   (health http://127.0.0.1:${p.gateway1}/readyz, push gRPC :${p.push1})
  gateway-2   ${stack.gatewayUrls[1]}   (health http://127.0.0.1:${p.gateway2}/readyz, push gRPC :${p.push2})
  logic       127.0.0.1:${p.logic} (gRPC)
  placement   127.0.0.1:${p.placement} (gRPC)   journal-1 127.0.0.1:${p.journal1}   journal-2 127.0.0.1:${p.journal2}   (data in ${stack.dataDir})
  Jaeger      ${stack.jaegerUrl}   (API: ${stack.jaegerUrl}/api/traces/<trace id>)
  OTLP        ${stack.otlpEndpoint}   (${collector ? 'collector tier: tail sampling keeps errors, slow and debug traces and TRACECHAT_TAIL_SAMPLE_PERCENT (100 here) of the rest' : 'straight to Jaeger: every trace kept'})
${
  collector
    ? `  metrics     ${stack.metricsUrl}   (span metrics and service metrics, Prometheus format)
`
    : ''
}  admin       ${stack.adminUrls[0]}/admin/sampling/whitelist (gateway-2: ${stack.adminUrls[1]}; Authorization: Bearer ${stack.adminToken})
  logs        ${stack.logDir}

  token:  pnpm token alice
  send:   pnpm send --user alice --session lobby "hello"
  Ctrl-C stops everything.
`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\ntracechat: stopping…');
    await stack.stop();
    console.log('tracechat: stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
