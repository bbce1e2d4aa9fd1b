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
