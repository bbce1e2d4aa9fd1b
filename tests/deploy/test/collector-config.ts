import { readFileSync } from 'node:fs';
import { hostPort, parseYaml } from './repo';

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Variables an OpenTelemetry collector (or Jaeger v2) config reads through `${env:NAME…}`. */
export function configEnvNames(paths: readonly string[]): Set<string> {
  return new Set(
    paths.flatMap((p) => [...readFileSync(p, 'utf8').matchAll(ENV_REF)].map((m) => m[1]!)),
  );
}

function isMap(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Record<string, any>, over: Record<string, any>): Record<string, any> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isMap(value) && isMap(out[key]) ? merge(out[key], value) : value;
  }
  return out;
}

/**
 * The config a collector runs with `--config a --config b …`: `${env:…}` resolved from `env`
 * (or the default), maps merged and lists replaced, as the collector's confmap does.
 */
export function loadCollectorConfig(
  paths: readonly string[],
  env: Readonly<Record<string, string>> = {},
): any {
  return paths.reduce<Record<string, any>>((config, path) => {
    const text = readFileSync(path, 'utf8').replace(
      ENV_REF,
      (_m, name: string, fallback?: string) => env[name] ?? fallback ?? '',
    );
    const doc = parseYaml(text) ?? {};
    if (!isMap(doc)) throw new Error(`${path} is not a map`);
    return merge(config, doc);
  }, {});
}

function endpoints(value: unknown): string[] {
  if (isMap(value)) {
    return Object.entries(value).flatMap(([key, v]) =>
      key === 'endpoint' && typeof v === 'string' ? [v] : endpoints(v),
    );
  }
  return Array.isArray(value) ? value.flatMap(endpoints) : [];
}

/**
 * Ports a loaded collector config listens on: receivers, extensions, Prometheus exporters and the
 * collector's own metrics reader.
 */
export function listenPorts(config: any): Set<number> {
  const addresses = [
    ...endpoints(config.receivers),
    ...endpoints(config.extensions),
    ...Object.entries(config.exporters ?? {})
      .filter(([id]) => id.split('/')[0] === 'prometheus')
      .flatMap(([, exporter]) => endpoints(exporter)),
  ];
  const ports = addresses.map((a) => hostPort(a).port);
  for (const reader of config.service?.telemetry?.metrics?.readers ?? []) {
    const port = reader?.pull?.exporter?.prometheus?.port;
    if (port !== undefined) ports.push(Number(port));
  }
  return new Set(ports);
}

/** The component type of an id such as `otlp/jaeger`. */
export function componentType(id: string): string {
  return id.split('/')[0]!;
}

/** Pipelines of a loaded config whose signal (the part before `/`) is `signal`. */
export function pipelines(config: any, signal: string): Record<string, any>[] {
  return Object.entries(config.service?.pipelines ?? {})
    .filter(([id]) => componentType(id) === signal)
    .map(([, p]) => p as Record<string, any>);
}

/** The two binaries that run collector configs here. */
export type CollectorBinary = 'jaeger' | 'contrib';

/**
 * Component types of the otelcol-contrib distribution (the otel/opentelemetry-collector-contrib
 * image): the modules listed in open-telemetry/opentelemetry-collector-releases,
 * distributions/otelcol-contrib/manifest.yaml (read at its v0.136.0 release; the images here are
 * 0.140.0), each under the type its metadata.yaml gives it. Only the ones this repository uses or
 * may reach for: a type missing here fails the check until it is looked up there and added.
 * healthcheckv2 is not in that manifest (health_check is), so it is not here.
 */
export const CONTRIB_COMPONENTS: Readonly<Record<string, readonly string[]>> = {
  receivers: ['otlp', 'prometheus', 'jaeger', 'zipkin', 'hostmetrics', 'filelog'],
  processors: [
    'batch',
    'memory_limiter',
    'tail_sampling',
    'probabilistic_sampler',
    'attributes',
    'resource',
    'filter',
    'transform',
    'k8sattributes',
  ],
  exporters: [
    'otlp',
    'otlphttp',
    'debug',
    'loadbalancing',
    'prometheus',
    'prometheusremotewrite',
    'file',
  ],
  connectors: ['spanmetrics', 'servicegraph', 'forward', 'routing', 'count'],
  extensions: ['health_check', 'pprof', 'zpages', 'file_storage'],
};

/**
 * The health extension a binary has: Jaeger's build has healthcheckv2 and not health_check,
 * otelcol-contrib the other way round. A config run by `binary` must enable its one, and must not
 * define or enable the other's.
 */
export function healthProblems(config: any, binary: CollectorBinary): string[] {
  const [own, other] =
    binary === 'jaeger' ? ['healthcheckv2', 'health_check'] : ['health_check', 'healthcheckv2'];
  const defined = Object.keys(config.extensions ?? {});
  const enabled: string[] = config.service?.extensions ?? [];
  const problems = [...new Set([...defined, ...enabled])]
    .filter((id) => componentType(id) === other)
    .map((id) => `${binary}: extension ${id} is not in this binary (it has ${own})`);
  if (!enabled.some((id) => componentType(id) === own && defined.includes(id))) {
    problems.push(`${binary}: service.extensions enables no ${own}`);
  }
  return problems;
}

/**
 * What otelcol-contrib would refuse in a loaded config, short of running it: components of types
 * it does not ship (CONTRIB_COMPONENTS), pipelines and service.extensions naming components that are
 * not defined, and the wrong health extension.
 */
export function contribProblems(config: any): string[] {
  const problems: string[] = [];
  for (const [section, types] of Object.entries(CONTRIB_COMPONENTS)) {
    for (const id of Object.keys(config[section] ?? {})) {
      if (!types.includes(componentType(id)))
        problems.push(`${section}: ${id} is not a type otelcol-contrib ships`);
    }
  }
  for (const section of Object.keys(config)) {
    if (!['service', ...Object.keys(CONTRIB_COMPONENTS)].includes(section))
      problems.push(`unknown top-level section ${section}`);
  }
  const has = (sections: string[], id: string) => sections.some((s) => id in (config[s] ?? {}));
  const where: Record<string, string[]> = {
    receivers: ['receivers', 'connectors'],
    processors: ['processors'],
    exporters: ['exporters', 'connectors'],
  };
  for (const [id, pipeline] of Object.entries<any>(config.service?.pipelines ?? {})) {
    for (const [section, sections] of Object.entries(where)) {
      for (const ref of pipeline[section] ?? []) {
        if (!has(sections, ref)) problems.push(`pipeline ${id}: ${section} ${ref} is not defined`);
      }
    }
  }
  for (const ext of config.service?.extensions ?? []) {
    if (!has(['extensions'], ext)) problems.push(`extension ${ext} is not defined`);
  }
  return [...problems, ...healthProblems(config, 'contrib')];
}
