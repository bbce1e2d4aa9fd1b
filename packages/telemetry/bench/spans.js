'use strict';
/**
 * What tracing costs a service: creates spans the way the services do (withSpan, ~6 attributes
 * each, plus a counter and a histogram per message) through the real SDK setup (startTelemetry
 * with its OTLP exporters, sampler, batch processor and instrumentations), exports them to a
 * local receiver, and prints spans/s and CPU µs per span, once untraced (ENABLE_TELEMETRY=false)
 * and once traced. The receiver runs in its own process and counts the spans it got, so a lost
 * span shows.
 *
 *   pnpm --filter @tracechat/telemetry build
 *   pnpm --filter @tracechat/telemetry bench [-- --spans 200000 --rate 20000 --protocol http/json]
 *
 * --spans N       spans to create in the measured run (default 200000), after a warm-up of 10 %
 *                 of them (at least 20000)
 * --rate R        spans/s to create at, paced in 10 ms ticks; 0 = as fast as possible (default 0)
 * --protocol P    OTEL_EXPORTER_OTLP_PROTOCOL for the traced run (default: the package's default)
 * --endpoint URL  export to this OTLP/HTTP endpoint instead of the built-in receiver (no counting)
 * --runs K        repeat each run K times and print every result (default 1)
 * --prof DIR      write a V8 CPU profile of each traced run to DIR (open it in Chrome DevTools)
 * Any OTEL_* variable set in the environment (e.g. OTEL_BSP_MAX_QUEUE_SIZE) reaches the SDK.
 * BENCH_DIST=/path/to/dist measures another build of this package (main's, for a before/after).
 */
const { fork } = require('node:child_process');
const { createRequire } = require('node:module');
const { join } = require('node:path');
const { PerformanceObserver } = require('node:perf_hooks');

const SPANS_PER_MESSAGE = 5;

function parseArgs(argv) {
  const args = {
    spans: 200_000,
    rate: 0,
    protocol: undefined,
    endpoint: undefined,
    runs: 1,
    prof: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') continue; // what `pnpm … bench -- <options>` passes first
    const key = argv[i].replace(/^--/, '');
    const value = argv[++i];
    if (!(key in args) || value === undefined)
      throw new Error(`unknown or empty option ${argv[i - 1]}`);
    args[key] = ['spans', 'rate', 'runs'].includes(key) ? Number(value) : value;
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// child: one measured run
// ---------------------------------------------------------------------------------------------

/** Loads the libraries the services use, so their instrumentations patch them (start-up cost). */
function requireServiceLibraries() {
  const repo = join(__dirname, '..', '..', '..');
  const libs = [
    ['apps/gateway', 'fastify'],
    ['apps/gateway', 'ws'],
    ['apps/gateway', 'ioredis'],
    ['packages/postgres', 'pg'],
    ['packages/protos', '@grpc/grpc-js'],
    ['packages/messaging', 'nats'],
  ];
  for (const [dir, name] of libs) {
    try {
      createRequire(join(repo, dir, 'package.json'))(name);
    } catch {
      // not installed in this checkout: its start-up cost is simply not measured
    }
  }
}

async function child() {
  const args = JSON.parse(process.env.BENCH_ARGS);
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const telemetry = require(process.env.BENCH_DIST ?? '../dist');
  telemetry.startTelemetry(telemetry.loadTelemetryConfig(process.env));
  requireServiceLibraries();
  const startup = {
    ms: Number(process.hrtime.bigint() - t0) / 1e6,
    cpuMs: cpuMicros(process.cpuUsage(cpu0)) / 1000,
  };
  const { withSpan, setAttributes, incrementCounter, recordHistogram, SpanKind } = telemetry;
  const { Attr, MetricName, SamplingEvent, SpanName } = require('@tracechat/contracts');

  let seq = 0;
  /** One chat message: a server span, a client call with two nested steps, a response. */
  const message = () => {
    const n = seq++;
    const user = `user-${n % 1000}`;
    const session = `session-${n % 100}`;
    const gateway = `gateway-${n % 2}`;
    return withSpan(
      SpanName.GATEWAY_WS_ON_MESSAGE,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [Attr.EVENT]: SamplingEvent.MESSAGING,
          [Attr.USER_ID]: user,
          [Attr.SESSION_ID]: session,
          [Attr.CONNECTION_ID]: `conn-${n % 500}`,
          [Attr.GATEWAY_ID]: gateway,
          [Attr.FRAME_TYPE]: 'send',
        },
      },
      async () => {
        await withSpan(
          SpanName.GATEWAY_GRPC_SEND_MESSAGE,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              [Attr.SESSION_ID]: session,
              [Attr.RPC_SERVICE]: 'tracechat.v1.ChatService',
              [Attr.RPC_METHOD]: 'SendMessage',
              [Attr.USER_ID]: user,
              [Attr.MESSAGE_SIZE]: 120,
              [Attr.GATEWAY_ID]: gateway,
            },
          },
          async () => {
            await withSpan(
              SpanName.LOGIC_AUTH_AUTHORIZE,
              {
                attributes: {
                  [Attr.USER_ID]: user,
                  [Attr.SESSION_ID]: session,
                  [Attr.CACHE_HIT]: n % 3 !== 0,
                  [Attr.MEMBER_COUNT]: 12,
                  [Attr.DB_SYSTEM_NAME]: 'postgresql',
                  [Attr.DB_OPERATION_NAME]: 'SELECT',
                },
              },
              () => undefined,
            );
            await withSpan(
              SpanName.LOGIC_JOURNAL_APPEND,
              {
                kind: SpanKind.CLIENT,
                attributes: {
                  [Attr.SESSION_ID]: session,
                  [Attr.SHARD_ID]: `shard-${n % 16}`,
                  [Attr.JOURNAL_NODE_ID]: 'journal-1',
                  [Attr.RPC_SERVICE]: 'tracechat.v1.JournalService',
                  [Attr.RPC_METHOD]: 'Append',
                  [Attr.RECORD_SIZE]: 180,
                },
              },
              (span) => span.setAttribute(Attr.JOURNAL_OFFSET, n),
            );
            setAttributes({ [Attr.MESSAGE_ID]: `msg-${n}`, [Attr.MESSAGE_SEQ]: n });
          },
        );
        await withSpan(
          SpanName.GATEWAY_WS_SEND_RESPONSE,
          { attributes: { [Attr.FRAME_TYPE]: 'sent', [Attr.CONNECTION_ID]: `conn-${n % 500}` } },
          (span) => span.setAttribute(Attr.FRAME_WRITTEN, true),
        );
        incrementCounter(MetricName.MESSAGES_SENT, { [Attr.GATEWAY_ID]: gateway });
        recordHistogram(
          MetricName.MESSAGE_DELIVERY_LATENCY,
          n % 50,
          { [Attr.GATEWAY_ID]: gateway },
          {
            unit: 'ms',
          },
        );
      },
    );
  };

  /** Creates `spans` spans, paced at `rate` spans/s in 10 ms ticks or flat out (rounds of 100). */
  const drive = async (spans, rate) => {
    const messages = Math.ceil(spans / SPANS_PER_MESSAGE);
    const started = performance.now();
    let done = 0;
    while (done < messages) {
      let round;
      if (rate > 0) {
        const due = Math.min(
          messages,
          Math.floor(((performance.now() - started) / 1000) * (rate / SPANS_PER_MESSAGE)) + 1,
        );
        round = Math.max(0, due - done);
      } else round = Math.min(100, messages - done);
      const pending = [];
      for (let i = 0; i < round; i++) pending.push(message());
      await Promise.all(pending);
      done += round;
      if (rate > 0) await new Promise((r) => setTimeout(r, 10));
      else await new Promise((r) => setImmediate(r));
    }
    return messages * SPANS_PER_MESSAGE;
  };

  // long enough for the JIT to settle, short enough not to matter
  const warmupSpans = await drive(Math.max(20_000, Math.ceil(args.spans / 10)), args.rate);
  const flushed0 = process.hrtime.bigint();
  await flush(telemetry);
  const warmupFlushMs = Number(process.hrtime.bigint() - flushed0) / 1e6;
  if (global.gc) global.gc();

  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const cpu1 = process.cpuUsage();
  const t1 = process.hrtime.bigint();
  const created = await drive(args.spans, args.rate);
  const createdMs = Number(process.hrtime.bigint() - t1) / 1e6;
  await telemetry.shutdownTelemetry();
  const totalMs = Number(process.hrtime.bigint() - t1) / 1e6;
  const cpu = process.cpuUsage(cpu1);
  gcObserver.disconnect();
  process.send(
    {
      type: 'result',
      result: {
        spans: created,
        warmupSpans,
        createdMs,
        totalMs,
        cpuUs: cpuMicros(cpu),
        userUs: cpu.user,
        systemUs: cpu.system,
        startup,
        warmupFlushMs,
        gcMs,
        rssMb: process.memoryUsage().rss / 2 ** 20,
      },
    },
    () => process.disconnect(),
  );
}

function cpuMicros(usage) {
  return usage.user + usage.system;
}

/** Waits until the warm-up spans are exported, so the measured run starts from an empty queue. */
async function flush() {
  const { trace } = require('@opentelemetry/api');
  const provider = trace.getTracerProvider();
  const delegate = typeof provider.getDelegate === 'function' ? provider.getDelegate() : provider;
  if (typeof delegate.forceFlush === 'function') await delegate.forceFlush();
}

// ---------------------------------------------------------------------------------------------
// parent: the receiver, an untraced and a traced run, the table
// ---------------------------------------------------------------------------------------------

function ask(proc, message, reply) {
  return new Promise((resolve) => {
    const onMessage = (msg) => {
      if (msg.type === reply) {
        proc.off('message', onMessage);
        resolve(msg);
      }
    };
    proc.on('message', onMessage);
    if (message) proc.send(message);
  });
}

async function runChild(args, env, traced) {
  const execArgv = ['--expose-gc'];
  if (traced && args.prof) execArgv.push('--cpu-prof', '--cpu-prof-dir', args.prof);
  const proc = fork(__filename, ['--child'], {
    env: { ...process.env, ...env, BENCH_ARGS: JSON.stringify(args) },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const { result } = await Promise.race([
    ask(proc, undefined, 'result'),
    exited.then((code) => {
      throw new Error(`benchmark run exited with ${code}`);
    }),
  ]);
  await exited;
  return result;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let receiver;
  let endpoint = args.endpoint;
  if (!endpoint) {
    receiver = fork(join(__dirname, 'receiver.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const { port } = await ask(receiver, undefined, 'ready');
    endpoint = `http://127.0.0.1:${port}`;
  }
  const base = {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
    // as the stack runner sets it (packages/cli/src/stack.ts)
    OTEL_BSP_SCHEDULE_DELAY: process.env.OTEL_BSP_SCHEDULE_DELAY ?? '1000',
    SERVICE_NAME: 'bench',
    LOG_LEVEL: 'warn',
  };
  if (args.protocol) base.OTEL_EXPORTER_OTLP_PROTOCOL = args.protocol;
  console.log(
    `${args.spans} spans (${SPANS_PER_MESSAGE} a message, ~6 attributes each), ` +
      `${args.rate > 0 ? `paced at ${args.rate} spans/s` : 'flat out'}, ` +
      `protocol ${args.protocol ?? '(default)'}, to ${args.endpoint ?? 'the local receiver'}`,
  );
  const rows = [];
  for (let run = 0; run < args.runs; run++) {
    for (const traced of [false, true]) {
      if (receiver) await ask(receiver, { type: 'reset' }, 'reset');
      const result = await runChild(args, { ...base, ENABLE_TELEMETRY: String(traced) }, traced);
      let received;
      if (receiver) received = (await ask(receiver, { type: 'report' }, 'report')).counts;
      rows.push({ traced, result, received });
      const r = result;
      const line = [
        traced ? 'traced  ' : 'untraced',
        `${Math.round(r.spans / (r.totalMs / 1000))} spans/s`,
        `${(r.cpuUs / r.spans).toFixed(2)} µs CPU/span`,
        `(user ${(r.userUs / r.spans).toFixed(2)}, sys ${(r.systemUs / r.spans).toFixed(2)}, ` +
          `gc ${((r.gcMs * 1000) / r.spans).toFixed(2)})`,
        `start-up ${r.startup.ms.toFixed(0)} ms (${r.startup.cpuMs.toFixed(0)} ms CPU)`,
        `rss ${r.rssMb.toFixed(0)} MB`,
      ];
      if (traced && received) {
        const expected = r.spans + r.warmupSpans;
        line.push(
          `received ${received.spans}/${expected} spans` +
            (received.spans < expected ? ` (${expected - received.spans} LOST)` : '') +
            ` in ${received.traceRequests} requests, ${(received.traceBytes / received.spans).toFixed(0)} B/span`,
        );
      }
      console.log(line.join('  '));
    }
  }
  const perSpan = (traced) =>
    rows
      .filter((r) => r.traced === traced)
      .map((r) => r.result.cpuUs / r.result.spans)
      .sort((a, b) => a - b);
  const median = (sorted) => sorted[Math.floor((sorted.length - 1) / 2)];
  const off = perSpan(false);
  const on = perSpan(true);
  const lost = rows.reduce(
    (sum, r) =>
      sum + (r.traced && r.received ? r.result.spans + r.result.warmupSpans - r.received.spans : 0),
    0,
  );
  const summary = (label, pick) =>
    `${label}: untraced ${pick(off).toFixed(2)} µs CPU/span, traced ${pick(on).toFixed(2)} µs CPU/span, ` +
    `tracing costs ${(pick(on) - pick(off)).toFixed(2)} µs CPU/span (${(pick(on) / pick(off)).toFixed(2)}× untraced)`;
  if (args.runs > 1) console.log(summary(`best of ${args.runs}`, (v) => v[0]));
  console.log(
    summary(args.runs > 1 ? `median of ${args.runs}` : 'result', median) +
      (receiver ? `, ${lost} spans lost` : ''),
  );
  receiver?.kill();
}

if (process.argv.includes('--child')) {
  child().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
