import { readdirSync } from 'node:fs';
import { provisionedDatasources, traceToMetricsQuery } from './grafana';
import { readText, readYaml, repoPath } from './repo';

/** A PromQL expression found in deploy/, and where. */
export interface Query {
  readonly where: string;
  readonly expr: string;
}

/** One vector selector of an expression: the metric name and its label matchers. */
export interface Selector {
  readonly name: string;
  readonly matchers: readonly { label: string; op: string; value: string }[];
}

/**
 * Every PromQL expression in deploy/: alert rules, the series their tests feed in, dashboard
 * panels, and the trace-to-metrics queries of the datasources (expanded as Grafana provisions
 * them, then opened from `span`).
 */
export function deployQueries(span: {
  name: string;
  tags: Readonly<Record<string, string>>;
}): Query[] {
  const alerts = readYaml('deploy/prometheus/alerts.yml');
  const tests = readYaml('deploy/prometheus/alerts.test.yml');
  const dashboards = readdirSync(repoPath('deploy/grafana/dashboards'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(readText(`deploy/grafana/dashboards/${f}`))] as const);
  return [
    ...alerts.groups.flatMap((g: any) =>
      g.rules.map((r: any) => ({ where: `alerts.yml ${r.alert ?? r.record}`, expr: r.expr })),
    ),
    ...tests.tests.flatMap((t: any, i: number) =>
      t.input_series.map((s: any) => ({ where: `alerts.test.yml test ${i + 1}`, expr: s.series })),
    ),
    ...dashboards.flatMap(([file, d]) =>
      d.panels.flatMap((p: any) =>
        p.targets.map((t: any) => ({ where: `${file} "${p.title}"`, expr: t.expr })),
      ),
    ),
    ...provisionedDatasources({}).flatMap((ds) =>
      (ds.jsonData?.tracesToMetrics?.queries ?? []).map((q: any) => ({
        where: `datasource ${ds.name} "${q.name}"`,
        expr: traceToMetricsQuery(q.query, ds.jsonData.tracesToMetrics.tags ?? [], span),
      })),
    ),
  ];
}

// Metric names here all start with one of these; label names and values never do.
const SELECTOR =
  /(?<![\w."])(up|target_info|(?:tracechat|traces|otelcol|jaeger)_[A-Za-z0-9_:]*)\b(?:\{([^}]*)\})?/g;
const MATCHER = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g;

/** The vector selectors of an expression. */
export function selectors(expr: string): Selector[] {
  return [...expr.matchAll(SELECTOR)].map((m) => ({
    name: m[1]!,
    matchers: [...(m[2] ?? '').matchAll(MATCHER)].map((x) => ({
      label: x[1]!,
      op: x[2]!,
      value: x[3]!,
    })),
  }));
}

/** Series of a Prometheus text exposition: name → the label sets it was seen with. */
export type Exposition = Map<string, Record<string, string>[]>;

/** Parses the Prometheus text format (comments skipped). */
export function parseExposition(text: string): Exposition {
  const out: Exposition = new Map();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [
        x[1]!,
        x[2]!,
      ]),
    );
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), labels]);
  }
  return out;
}
