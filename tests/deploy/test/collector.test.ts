import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contribProblems, healthProblems, loadCollectorConfig } from './collector-config';
import { jaegerValidate, readText, repoPath } from './repo';

const dir = (file: string) => repoPath('deploy/collector', file);
const COLLECTOR = dir('collector.yaml');
const HEALTH_JAEGER = dir('health-jaeger.yaml');
const HEALTH_CONTRIB = dir('health-contrib.yaml');
const TEMPO = dir('collector-tempo.yaml');

/** What each binary runs: collector.yaml, its own health overlay, then the optional Tempo overlay. */
const JAEGER_RUNS = [
  [COLLECTOR, HEALTH_JAEGER],
  [COLLECTOR, HEALTH_JAEGER, TEMPO],
];
const CONTRIB_RUNS = [
  [COLLECTOR, HEALTH_CONTRIB],
  [COLLECTOR, HEALTH_CONTRIB, TEMPO],
];
const names = (files: string[]) => files.map((f) => f.split('/').pop()).join(' + ');

/** The address a loaded config answers health checks on, whichever extension it uses. */
function healthAddress(config: any): string {
  const endpoint =
    config.extensions?.health_check?.endpoint ?? config.extensions?.healthcheckv2?.http?.endpoint;
  if (!endpoint) throw new Error('no health extension');
  return endpoint;
}

async function withCopy<T>(
  file: string,
  edit: (text: string) => string,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  const tmp = await mkdtemp(join(tmpdir(), 'collector-'));
  try {
    const path = join(tmp, file.split('/').pop()!);
    const text = readText(`deploy/collector/${file.split('/').pop()}`);
    const edited = edit(text);
    if (edited === text) throw new Error(`the edit changed nothing in ${file}`);
    await writeFile(path, edited);
    return await fn(path);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

describe('deploy/collector: one config, a health overlay per binary', () => {
  it('collector.yaml itself enables no extension: the health overlays do', () => {
    const base = loadCollectorConfig([COLLECTOR]);
    expect(base.extensions).toBeUndefined();
    expect(base.service.extensions).toBeUndefined();
  });

  it.each(JAEGER_RUNS.map((files) => [names(files), files] as const))(
    'Jaeger binary, %s: passes jaeger validate, and uses healthcheckv2 only',
    async (_name, files) => {
      const result = await jaegerValidate(files);
      expect(result.output).not.toMatch(/error/i);
      expect(result.ok).toBe(true);
      expect(healthProblems(loadCollectorConfig(files), 'jaeger')).toEqual([]);
    },
    120_000,
  );

  it.each(CONTRIB_RUNS.map((files) => [names(files), files] as const))(
    'otelcol-contrib, %s: only components contrib ships, health_check only',
    (_name, files) => {
      expect(contribProblems(loadCollectorConfig(files))).toEqual([]);
    },
  );

  it.each([
    [{}, '127.0.0.1:13134'],
    [{ COLLECTOR_BIND: '0.0.0.0', COLLECTOR_HEALTH_PORT: '23134' }, '0.0.0.0:23134'],
  ])('both health overlays answer on the same address (env %j: %s)', (env, address) => {
    expect(healthAddress(loadCollectorConfig([COLLECTOR, HEALTH_JAEGER], env))).toBe(address);
    expect(healthAddress(loadCollectorConfig([COLLECTOR, HEALTH_CONTRIB], env))).toBe(address);
  });

  // The checks above, failing on broken copies.

  it('jaeger validate refuses the contrib health overlay (health_check is not in Jaeger)', async () => {
    const result = await jaegerValidate([COLLECTOR, HEALTH_CONTRIB]);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/unknown type: "health_check"/);
    expect(healthProblems(loadCollectorConfig([COLLECTOR, HEALTH_CONTRIB]), 'jaeger')).toEqual([
      'jaeger: extension health_check is not in this binary (it has healthcheckv2)',
      'jaeger: service.extensions enables no healthcheckv2',
    ]);
  }, 120_000);

  it('the contrib check refuses the Jaeger health overlay (healthcheckv2 is not in contrib)', () => {
    expect(contribProblems(loadCollectorConfig([COLLECTOR, HEALTH_JAEGER]))).toEqual([
      'extensions: healthcheckv2 is not a type otelcol-contrib ships',
      'contrib: extension healthcheckv2 is not in this binary (it has health_check)',
      'contrib: service.extensions enables no health_check',
    ]);
  });

  it('the contrib check refuses healthcheckv2 left in collector.yaml under health-contrib.yaml', async () => {
    await withCopy(
      COLLECTOR,
      (text) =>
        text.replace(
          '\nreceivers:',
          '\nextensions:\n  healthcheckv2:\n    use_v2: true\n\nreceivers:',
        ),
      async (copy) => {
        // the first check of this block would see it too
        expect(loadCollectorConfig([copy]).extensions).toEqual({ healthcheckv2: { use_v2: true } });
        expect(contribProblems(loadCollectorConfig([copy, HEALTH_CONTRIB]))).toEqual([
          'extensions: healthcheckv2 is not a type otelcol-contrib ships',
          'contrib: extension healthcheckv2 is not in this binary (it has health_check)',
        ]);
      },
    );
  });

  it('the contrib check refuses a misspelled component type and a pipeline naming a missing one', async () => {
    await withCopy(
      COLLECTOR,
      (text) => text.replace('\n  tail_sampling:\n', '\n  tailsampling:\n'),
      async (copy) => {
        expect(contribProblems(loadCollectorConfig([copy, HEALTH_CONTRIB]))).toEqual([
          'processors: tailsampling is not a type otelcol-contrib ships',
          'pipeline traces/sampled: processors tail_sampling is not defined',
        ]);
      },
    );
    await withCopy(
      TEMPO,
      (text) => text.replace('[otlp/jaeger, spanmetrics/kept, otlp/tempo]', '[otlp/jaeger, spanmetrics/kept, otlp/tempoo]'),
      async (copy) => {
        expect(contribProblems(loadCollectorConfig([COLLECTOR, HEALTH_CONTRIB, copy]))).toEqual([
          'pipeline traces/sampled: exporters otlp/tempoo is not defined',
        ]);
      },
    );
  });

  it('the same-address check notices an overlay with another default port', async () => {
    await withCopy(
      HEALTH_CONTRIB,
      (text) => text.replace('COLLECTOR_HEALTH_PORT:-13134', 'COLLECTOR_HEALTH_PORT:-13133'),
      async (copy) => {
        expect(healthAddress(loadCollectorConfig([COLLECTOR, copy]))).not.toBe(
          healthAddress(loadCollectorConfig([COLLECTOR, HEALTH_JAEGER])),
        );
      },
    );
  });
});
