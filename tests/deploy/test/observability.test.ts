import { readdirSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { loadCollectorConfig } from './collector-config';
import { grafanaExpand, provisionedDatasources, traceToMetricsQuery } from './grafana';
import { parseYaml, readText, readYaml, repoPath, tryRun } from './repo';

const PROMETHEUS = 'deploy/prometheus';

async function promtool(args: string[], cwd = repoPath(PROMETHEUS)) {
  const version = await tryRun('promtool', ['--version']);
  if (!version.ok) {
    throw new Error(
      'promtool is not installed: apt-get install prometheus (bash .ci/run installs it)',
    );
  }
  return tryRun('promtool', args, { cwd });
}

/** promtool check rules over expressions, each as a recording rule: does each parse as PromQL? */
async function checkPromql(exprs: readonly string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'promql-'));
  try {
    const rules = {
      groups: [
        { name: 'check', rules: exprs.map((expr, i) => ({ record: `check:query_${i}`, expr })) },
      ],
    };
    await writeFile(join(dir, 'rules.yml'), stringify(rules));
    return await promtool(['check', 'rules', join(dir, 'rules.yml')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const alerts = readYaml(`${PROMETHEUS}/alerts.yml`);
const dashboardFiles = readdirSync(repoPath('deploy/grafana/dashboards')).filter((f) =>
  f.endsWith('.json'),
);
const dashboards = dashboardFiles.map((f) =>
  JSON.parse(readText(`deploy/grafana/dashboards/${f}`)),
);
const panels: any[] = dashboards.flatMap((d) => d.panels);
const panelExprs: string[] = panels.flatMap((p) => p.targets.map((t: any) => t.expr as string));

describe('Prometheus', () => {
  it('promtool check config: prometheus.yml and the rule files it loads', async () => {
    const result = await promtool(['check', 'config', 'prometheus.yml']);
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.ok).toBe(true);
  });

  it('promtool check rules: alerts.yml', async () => {
    const result = await promtool(['check', 'rules', 'alerts.yml']);
    expect(result.ok).toBe(true);
  });

  it('promtool test rules: every alert fires, and stays quiet, where alerts.test.yml says', async () => {
    const result = await promtool(['test', 'rules', 'alerts.test.yml']);
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.ok).toBe(true);
    const tests = readYaml(`${PROMETHEUS}/alerts.test.yml`).tests;
    const cases = tests.flatMap((t: any) => t.alert_rule_test);
    for (const rule of alerts.groups.flatMap((g: any) => g.rules)) {
      const mine = cases.filter((c: any) => c.alertname === rule.alert);
      expect(
        `${rule.alert} fires in a test: ${mine.some((c: any) => c.exp_alerts.length > 0)}`,
      ).toBe(`${rule.alert} fires in a test: true`);
      expect(
        `${rule.alert} quiet in a test: ${mine.some((c: any) => c.exp_alerts.length === 0)}`,
      ).toBe(`${rule.alert} quiet in a test: true`);
    }
  });

  it('promtool test rules fails when the data-loss threshold no longer matches its tests (so it can fail)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'alerts-'));
    try {
      const rules = await readFile(repoPath(PROMETHEUS, 'alerts.yml'), 'utf8');
      expect(rules).toContain('> 0.10\n        for: 2m');
      await writeFile(
        join(dir, 'alerts.yml'),
        rules.replace('> 0.10\n        for: 2m', '> 0.50\n        for: 2m'),
      );
      await copyFile(repoPath(PROMETHEUS, 'alerts.test.yml'), join(dir, 'alerts.test.yml'));
      const result = await promtool(['test', 'rules', 'alerts.test.yml'], dir);
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/TracingDataLoss/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  // metric names: metric-names.test.ts checks them against a running stack
});

describe('Grafana', () => {
  const grafanaEnv: Record<string, string> = parseYaml(readText('docker-compose.yml')).services
    .grafana.environment;
  // as Grafana reads them: every string expanded against its environment
  const datasources = provisionedDatasources(grafanaEnv);
  const uid = (type: string) => datasources.find((d) => d.type === type)?.uid;
  const tracing = datasources.filter((d) => ['jaeger', 'tempo'].includes(d.type));

  it('links metrics to traces both ways: exemplars to Jaeger, spans to their metrics', () => {
    const prometheus = datasources.find((d) => d.type === 'prometheus');
    expect(prometheus.jsonData.exemplarTraceIdDestinations).toEqual([
      { name: 'trace_id', datasourceUid: uid('jaeger') },
    ]);
    expect(tracing.map((d) => d.type).sort()).toEqual(['jaeger', 'tempo']);
    for (const ds of tracing) {
      expect(ds.jsonData.tracesToMetrics.datasourceUid).toBe(uid('prometheus'));
      expect(ds.jsonData.tracesToMetrics.queries.length).toBeGreaterThan(0);
      for (const q of ds.jsonData.tracesToMetrics.queries) {
        expect(q.query).toContain('$__tags');
        expect(q.query).toContain('${__span.name}');
      }
    }
  });

  it('every trace-to-metrics query, as provisioned and opened from a span, is valid PromQL', async () => {
    const span = { name: 'logic.chat.send_message', tags: { 'service.name': 'logic' } };
    const queries = tracing.flatMap((ds) =>
      ds.jsonData.tracesToMetrics.queries.map((q: any) => ({
        name: `${ds.name}: ${q.name}`,
        expr: traceToMetricsQuery(q.query, ds.jsonData.tracesToMetrics.tags ?? [], span),
      })),
    );
    for (const q of queries) {
      expect(`${q.name}: ${q.expr}`).toContain('service_name="logic"');
      expect(`${q.name}: ${q.expr}`).toContain('span_name="logic.chat.send_message"');
    }
    const result = await checkPromql(queries.map((q) => q.expr));
    expect(result.output).toMatch(new RegExp(`SUCCESS: ${queries.length} rules found`));
    expect(result.ok).toBe(true);
  });

  it('the Grafana expansion empties an unescaped $__tags (so the checks above can fail)', async () => {
    const raw =
      'sum(rate(traces_span_metrics_calls_total{$__tags, span_name="${__span.name}"}[1m]))';
    expect(grafanaExpand(raw, grafanaEnv)).toBe(
      'sum(rate(traces_span_metrics_calls_total{, span_name=""}[1m]))',
    );
    expect(grafanaExpand(raw.replace(/\$/g, '$$$$'), grafanaEnv)).toBe(raw);
    expect(grafanaExpand('$__env{GF_SECURITY_ADMIN_PASSWORD}:$X${Y}$', { X: 'x', Y: 'y' })).toBe(
      ':xy$',
    );
    const result = await checkPromql([grafanaExpand(raw, grafanaEnv)]);
    expect(result.ok).toBe(false);
  });

  it('no service map without the service-graph metrics it reads', () => {
    const collector = loadCollectorConfig([repoPath('deploy/collector/collector.yaml')]);
    const fed = Object.values<any>(collector.service.pipelines).some((p) =>
      (p.exporters ?? []).some((id: string) => id.split('/')[0] === 'servicegraph'),
    );
    const maps = datasources.filter((d) => d.jsonData?.serviceMap).map((d) => d.name);
    expect(`service map in ${maps.join(', ') || 'none'}, fed: ${fed}`).toBe(
      fed ? `service map in ${maps.join(', ')}, fed: true` : 'service map in none, fed: false',
    );
  });

  it('anonymous visitors can follow the links: each opens Explore, which a Viewer gets only with viewers_can_edit', () => {
    const links: string[] = panels.flatMap((p) =>
      (p.fieldConfig?.defaults?.links ?? []).map((l: any) => l.url as string),
    );
    expect(links.length).toBeGreaterThan(0);
    expect(links.every((url) => url.startsWith('/explore?'))).toBe(true);
    // ini keys as GF_<SECTION>_<KEY>, the names Grafana reads them from
    const setting = (key: string) => grafanaEnv[key]?.toLowerCase();
    expect(setting('GF_AUTH_ANONYMOUS_ENABLED')).toBe('true');
    const role = setting('GF_AUTH_ANONYMOUS_ORG_ROLE');
    const explore =
      role === 'editor' || role === 'admin' || setting('GF_USERS_VIEWERS_CAN_EDIT') === 'true';
    expect(`anonymous ${role} can open Explore: ${explore}`).toBe(
      `anonymous ${role} can open Explore: true`,
    );
  });

  it('dashboard panels use provisioned datasources and link to traces', () => {
    const uids = new Set(datasources.map((d) => d.uid));
    expect(panels.length).toBeGreaterThanOrEqual(6);
    for (const panel of panels) {
      for (const ds of [panel.datasource, ...panel.targets.map((t: any) => t.datasource)])
        expect(uids).toContain(ds.uid);
    }
    const linked = panels.filter(
      (p) =>
        (p.fieldConfig?.defaults?.links ?? []).some((l: any) => l.url.includes('jaeger')) ||
        p.targets.some((t: any) => t.exemplar),
    );
    expect(linked.length).toBeGreaterThanOrEqual(panels.length / 2);
    expect(panels.some((p) => p.targets.some((t: any) => t.exemplar))).toBe(true);
    const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of ['messages', 'latency', 'error', 'span rate'])
      expect(titles).toContain(topic);
  });

  it('every dashboard query is valid PromQL (promtool check rules over them)', async () => {
    const result = await checkPromql(
      panelExprs.map((expr) => expr.replace(/\$__rate_interval/g, '1m')),
    );
    expect(result.output).toMatch(new RegExp(`SUCCESS: ${panelExprs.length} rules found`));
    expect(result.ok).toBe(true);
  });

  it("the README's Grafana section names every panel and every alert", () => {
    const readme = readText('README.md');
    const start = readme.indexOf('## Grafana and alerts');
    expect(start).toBeGreaterThan(0);
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const titles = panels.map((p) => p.title.replace(/ \(.*\)$/, ''));
    expect(titles.filter((t) => !section.includes(`| ${t} |`))).toEqual([]);
    const names = alerts.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert as string));
    expect(names.filter((n: string) => !section.includes(`\`${n}\``))).toEqual([]);
  });

  it('loads the dashboards from where docker compose mounts them', () => {
    const compose = parseYaml(readText('docker-compose.yml'));
    const mounts: string[] = compose.services.grafana.volumes;
    const provider = readYaml('deploy/grafana/provisioning/dashboards/tracechat.yml').providers[0];
    const mount = mounts
      .map((m) => m.split(':'))
      .find(([host]) => relative(repoPath(host!), repoPath('deploy/grafana/dashboards')) === '');
    expect(mount?.[1]).toBe(provider.options.path);
  });
});
