import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Attr, MetricName, SpanName } from '../src';

const TRACING_MD = join(__dirname, '..', '..', '..', 'docs', 'tracing.md');

/** The first column (a name in backticks) of the one table under `## <heading>`. */
export function namesInTable(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/tracing.md has no "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

describe('docs/tracing.md and the catalog', () => {
  const markdown = readFileSync(TRACING_MD, 'utf8');

  it.each([
    ['Span catalog', SpanName],
    ['Attributes', Attr],
    ['Metrics', MetricName],
  ] as const)('list the same names under "%s"', (heading, catalog) => {
    const documented = namesInTable(markdown, heading);
    expect(new Set(documented).size).toBe(documented.length);
    expect(sorted(documented)).toEqual(sorted(Object.values(catalog)));
  });

  it('finds a renamed span: the check is not vacuous', () => {
    const renamed = markdown.replace('| `gateway.ws.push` |', '| `gateway.ws.pushed` |');
    expect(sorted(namesInTable(renamed, 'Span catalog'))).not.toEqual(
      sorted(Object.values(SpanName)),
    );
  });
});
