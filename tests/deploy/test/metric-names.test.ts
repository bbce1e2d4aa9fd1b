import { randomBytes } from 'node:crypto';
import { DEFAULT_PORTS, fetchTrace, setup } from '@tracechat/testkit';
import type { ChatClient, StackPorts, TestStack } from '@tracechat/testkit';
import { deployQueries, parseExposition, selectors } from './metrics-used';
import type { Exposition } from './metrics-used';
import { hostPort, readYaml } from './repo';

// The native stack with its collector tier: the same collector.yaml docker compose and Kubernetes
// run. Half the traces kept, so exemplars can be told apart from dropped traces.
let stack: TestStack;
let sender: ChatClient;
let reader: ChatClient;
/** What each Prometheus scrape job of deploy/prometheus/prometheus.yml gets from this stack. */
const scraped = new Map<string, Exposition>();
let openMetrics = '';

/**
 * prometheus.yml's jobs and the stack port each one's target stands for: compose targets use the
 * default ports (otel-collector:8889 → collectorPrometheus), the test stack free ones.
 */
function scrapeJobs(ports: StackPorts): { job: string; url: string }[] {
  const config = readYaml('deploy/prometheus/prometheus.yml');
  return config.scrape_configs
    .filter((j: any) => j.job_name !== 'prometheus')
    .flatMap((j: any) =>
      j.static_configs
        .flatMap((c: any) => c.targets as string[])
        .map((target: string) => {
          const { port } = hostPort(target);
          const key = (Object.keys(DEFAULT_PORTS) as (keyof StackPorts)[]).find(
            (k) => DEFAULT_PORTS[k] === port,
          );
          if (!key) throw new Error(`${j.job_name}: no stack port stands for ${target}`);
          return { job: j.job_name as string, url: `http://127.0.0.1:${ports[key]}/metrics` };
        }),
    );
}

const series = (job: string, name: string) => scraped.get(job)?.get(name) ?? [];
const allSeries = (name: string) => [...scraped.keys()].flatMap((job) => series(job, name));

async function scrapeAll(): Promise<void> {
  for (const { job, url } of scrapeJobs(stack.ports)) {
    const res = await fetch(url);
    expect(`${job} ${url}: ${res.status}`).toBe(`${job} ${url}: 200`);
    scraped.set(job, parseExposition(await res.text()));
  }
}

beforeAll(async () => {
  stack = await setup({
    collector: true,
    collectorEnv: { TAIL_DECISION_WAIT: '1s', TRACECHAT_TAIL_SAMPLE_PERCENT: '50' },
  });
  const room = stack.session('metrics');
  sender = await stack.connect(stack.user('sender'), 1);
  reader = await stack.connect(stack.user('reader'), 2);
  for (const c of [sender, reader])
    expect(await c.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
  for (let i = 0; i < 20; i++) {
    const ack = await sender.request({ type: 'send', session: room, text: `m ${i}` });
    expect(ack.type).toBe('ack');
    const pushed = await reader.waitFor(
      (f) => f.type === 'message' && f.message_id === ack.message_id,
    );
    reader.send({
      type: 'received',
      message_id: pushed.message_id,
      traceparent: pushed.traceparent,
    });
  }
  // a client that does not sample its trace (followed: no spans), and a send that fails
  const unsampled = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`;
  expect(
    await sender.request({ type: 'send', session: room, text: 'quiet', traceparent: unsampled }),
  ).toMatchObject({ type: 'ack' });
  expect(
    await sender.request({ type: 'send', session: stack.session('not-joined'), text: 'no' }),
  ).toMatchObject({ type: 'error', code: 'FORBIDDEN' });

  // services export metrics every 5 s, span metrics are flushed every 5 s
  const deadline = Date.now() + 40_000;
  for (;;) {
    await scrapeAll();
    // each service exports on its own schedule: wait for the last of them (gateway-2's pushes,
    // task's dead-letter series) as well as for the collector's own
    const ready =
      allSeries('tracechat_messages_sent_total').some((l) => l.sampled === 'false') &&
      allSeries('tracechat_messages_pushed_total').length > 0 &&
      allSeries('tracechat_messages_delivered_total').length > 0 &&
      allSeries('tracechat_message_delivery_latency_milliseconds_bucket').length > 0 &&
      allSeries('tracechat_task_messages_dead_lettered_total').length > 0 &&
      allSeries('traces_kept_span_metrics_calls_total').length > 0 &&
      allSeries('traces_span_metrics_calls_total').some(
        (l) => l.span_name === 'logic.chat.send_message' && l.status_code === 'STATUS_CODE_ERROR',
      ) &&
      allSeries('otelcol_exporter_sent_spans_total').length > 0 &&
      allSeries('otelcol_exporter_send_failed_spans_total').length > 0;
    if (ready || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const collector = scrapeJobs(stack.ports).find((j) => j.job === 'tracechat')!;
  const res = await fetch(collector.url, {
    headers: { Accept: 'application/openmetrics-text; version=1.0.0' },
  });
  openMetrics = await res.text();
}, 240_000);

afterAll(async () => {
  await stack?.cleanup();
});

const span = { name: 'logic.chat.send_message', tags: { 'service.name': 'logic' } };
const queries = deployQueries(span);

it('finds the queries of deploy/ (alerts, their tests, dashboards, datasources)', () => {
  const places = new Set(queries.map((q) => q.where.split(' ')[0]!.replace(/\.json$/, '')));
  expect([...places].sort()).toEqual(
    expect.arrayContaining(['alerts.test.yml', 'alerts.yml', 'datasource', 'tracechat']),
  );
  expect(queries.flatMap((q) => selectors(q.expr)).length).toBeGreaterThan(40);
});

it('every metric deploy/ uses is served by the running stack under that exact name', () => {
  const missing = queries.flatMap((q) =>
    selectors(q.expr)
      .filter((s) => s.name !== 'up')
      .filter((s) => allSeries(s.name).length === 0)
      .map((s) => `${q.where}: ${s.name}`),
  );
  expect([...new Set(missing)]).toEqual([]);
});

it('every label deploy/ selects on exists on that metric, and every exact value it asks for is served', () => {
  const problems = queries.flatMap((q) =>
    selectors(q.expr)
      .filter((s) => s.name !== 'up')
      .flatMap((s) => {
        const have = allSeries(s.name);
        return s.matchers
          .filter((m) => !['job', 'instance'].includes(m.label))
          .flatMap((m) => {
            if (!have.some((l) => m.label in l))
              return [`${q.where}: ${s.name} has no label ${m.label}`];
            // values in rules and dashboards must occur; test inputs may make up others
            if (
              m.op === '=' &&
              !q.where.startsWith('alerts.test.yml') &&
              !have.some((l) => l[m.label] === m.value)
            )
              return [`${q.where}: ${s.name} never has ${m.label}="${m.value}"`];
            return [];
          });
      }),
  );
  expect([...new Set(problems)]).toEqual([]);
});

it('up{job=…} in the alerts names jobs Prometheus scrapes, each answering on this stack', () => {
  const jobs = queries
    .flatMap((q) => selectors(q.expr))
    .filter((s) => s.name === 'up')
    .flatMap((s) => s.matchers.filter((m) => m.label === 'job'))
    .flatMap((m) => (m.op === '=~' ? m.value.split('|') : [m.value]));
  expect(jobs.length).toBeGreaterThan(0);
  for (const job of new Set(jobs)) expect([...scraped.keys()]).toContain(job);
  for (const [job, exposition] of scraped)
    expect(`${job}: ${exposition.size > 0}`).toBe(`${job}: true`);
});

it('counts sends of unsampled traces apart, and spans dropped by reason', () => {
  const sent = series('tracechat', 'tracechat_messages_sent_total');
  expect(sent.some((l) => l.sampled === 'true')).toBe(true);
  expect(sent.some((l) => l.sampled === 'false')).toBe(true);
  const dropped = series('tracechat', 'tracechat_telemetry_spans_dropped_total');
  expect(new Set(dropped.map((l) => l.error_type))).toEqual(
    new Set(['queue_full', 'export_failed']),
  );
});

it('exemplars come only from kept traces, and each opens its trace in Jaeger', async () => {
  const exemplar = (line: string) => /#\s*\{[^}]*trace_id="([0-9a-f]{32})"/.exec(line)?.[1];
  const lines = openMetrics.split('\n');
  const beforeSampling = lines.filter((l) => l.startsWith('traces_span_metrics_') && exemplar(l));
  expect(beforeSampling).toEqual([]);
  const ids = [
    ...new Set(
      lines
        .filter((l) => l.startsWith('traces_kept_span_metrics_'))
        .map(exemplar)
        .filter((id): id is string => id !== undefined),
    ),
  ];
  expect(ids.length).toBeGreaterThan(0);
  const deadline = Date.now() + 15_000;
  let missing = ids;
  while (missing.length > 0 && Date.now() < deadline) {
    const found = await Promise.all(missing.map((id) => fetchTrace(stack.jaegerUrl, id)));
    missing = missing.filter((_id, i) => found[i] === undefined);
    if (missing.length > 0) await new Promise((r) => setTimeout(r, 1000));
  }
  expect(missing).toEqual([]);
}, 30_000);
