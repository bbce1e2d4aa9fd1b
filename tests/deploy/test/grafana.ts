import { readdirSync } from 'node:fs';
import { mapStrings, readYaml, repoPath } from './repo';

const SPECIAL = '*#$@!?-0123456789';
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Go's os.Expand: `$NAME` and `${NAME}` replaced through `lookup`, as its shell-like rules read them. */
function goExpand(text: string, lookup: (name: string) => string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$' || i + 1 >= text.length) {
      out += c;
      i += 1;
      continue;
    }
    const rest = text.slice(i + 1);
    let name = '';
    let width = 0;
    if (rest[0] === '{') {
      if (rest.length > 2 && SPECIAL.includes(rest[1]!) && rest[2] === '}') {
        name = rest[1]!;
        width = 3;
      } else {
        const close = rest.indexOf('}');
        // `${}` and an unclosed `${` are bad syntax: Go drops the characters it read
        if (close === 1) width = 2;
        else if (close < 0) width = 1;
        else {
          name = rest.slice(1, close);
          width = close + 1;
        }
      }
    } else if (SPECIAL.includes(rest[0]!)) {
      name = rest[0]!;
      width = 1;
    } else {
      while (width < rest.length && NAME_CHAR.test(rest[width]!)) width += 1;
      name = rest.slice(0, width);
    }
    if (name !== '') out += lookup(name);
    else if (width === 0) out += '$'; // `$` not followed by a name stays
    i += 1 + width;
  }
  return out;
}

/**
 * One string value of a provisioning file as Grafana reads it (pkg/services/provisioning/values,
 * interpolateValue): split on `$$`, each part expanded (`$__env{NAME}` and then `$NAME`/`${NAME}`
 * from the environment, unset names becoming empty), the parts joined again with `$`. So `$$`
 * is the only way to keep a literal `$` such as Grafana's own `$__tags`.
 */
export function grafanaExpand(value: string, env: Readonly<Record<string, string>>): string {
  return value
    .split('$$')
    .map((part) =>
      goExpand(
        part.replace(/\$__env\{([^}]*)\}/g, (_m, name: string) => env[name] ?? ''),
        (name) => env[name] ?? '',
      ),
    )
    .join('$');
}

/** Every datasource of deploy/grafana/provisioning/datasources, with every string expanded as Grafana does. */
export function provisionedDatasources(
  env: Readonly<Record<string, string>>,
  dir = 'deploy/grafana/provisioning/datasources',
): any[] {
  return readdirSync(repoPath(dir))
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap(
      (f) => mapStrings(readYaml(`${dir}/${f}`), (s) => grafanaExpand(s, env)).datasources as any[],
    );
}

/**
 * The PromQL a trace-to-metrics query becomes when a user opens it from a span: Grafana puts the
 * span's tags (as `label="value"` matchers) in `$__tags` and its name in `${__span.name}`.
 */
export function traceToMetricsQuery(
  query: string,
  tags: readonly { key: string; value?: string }[],
  span: { name: string; tags: Readonly<Record<string, string>> },
): string {
  const matchers = tags
    .filter((t) => span.tags[t.key] !== undefined)
    .map((t) => `${t.value || t.key}="${span.tags[t.key]}"`)
    .join(', ');
  return query.replace(/\$__tags/g, matchers).replace(/\$\{__span\.name\}/g, span.name);
}
