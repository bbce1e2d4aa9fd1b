import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { repoPath, hostPort } from './repo';

/**
 * What a service's `src/config.ts` says about its environment, learnt by reading the source:
 * every `EnvReader` call with a literal name (or a template, matched as a pattern) and its default.
 */
export interface ServiceEnv {
  readonly app: string;
  /** Variables the service reads, its own and the telemetry package's. */
  readonly names: ReadonlySet<string>;
  reads(name: string): boolean;
  /** The literal default beside the name, when there is one. */
  defaultOf(name: string): string | undefined;
  /** The reader method used for the name: address, url, int, string, … */
  kindOf(name: string): string | undefined;
}

interface EnvRead {
  readonly name: string;
  readonly kind: string;
  readonly fallback: string | undefined;
}

function readerMethods(): string[] {
  const source = readFileSync(repoPath('packages/config/src/env.ts'), 'utf8');
  const methods = [...source.matchAll(/^\s{2}(\w+)(?:<[^>]*>)?\(name: string/gm)].map((m) => m[1]!);
  if (methods.length === 0)
    throw new Error('no EnvReader methods found in packages/config/src/env.ts');
  return methods;
}

function envReads(source: string): EnvRead[] {
  const call = new RegExp(
    String.raw`\.(${readerMethods().join('|')})\(\s*(['"\x60])([A-Z][A-Z0-9_]*(?:\$\{[^}]*\}[A-Z0-9_]*)*)\2` +
      String.raw`(?:\s*,\s*(?:(['"\x60])((?:(?!\4).)*)\4|(-?[\d_.]+)\b|([A-Z][A-Z0-9_]*)\b))?`,
    'g',
  );
  // a default given as a constant of the same file: const NAME = '…'
  const constant = (name: string) =>
    new RegExp(String.raw`const ${name}\s*=\s*(['"])(.*?)\1`).exec(source)?.[2];
  const own = [...source.matchAll(call)].map((m) => ({
    kind: m[1]!,
    name: m[3]!,
    fallback: m[5] ?? m[6]?.replace(/_/g, '') ?? (m[7] ? constant(m[7]) : undefined),
  }));
  const shared = sharedReads();
  const viaShared = [...source.matchAll(/\bshared\.(\w+)\(\)/g)].flatMap((m) => {
    const read = shared.get(m[1]!);
    if (!read) throw new Error(`shared.${m[1]}() is not in packages/config/src/shared.ts`);
    return read;
  });
  return [...own, ...viaShared];
}

/**
 * The variables of packages/config/src/shared.ts, which services read as `shared.<key>()`: the
 * same one parser in every service, so the name and default are learnt from that file.
 */
function sharedReads(): Map<string, EnvRead[]> {
  const source = readFileSync(repoPath('packages/config/src/shared.ts'), 'utf8');
  const defaults = new Map(
    [...source.matchAll(/^\s{2}(\w+): (?:'([^']*)'|([\d_]+)),$/gm)].map((m) => [
      m[1]!,
      m[2] ?? m[3]!.replace(/_/g, ''),
    ]),
  );
  // each `key: () => …` of sharedEnv runs to the next key: it may read one variable or several
  const starts = [...source.matchAll(/^\s{4}(\w+): \(\)(?:: \w+)? =>/gm)];
  const reads = new Map<string, EnvRead[]>();
  starts.forEach((start, i) => {
    const block = source.slice(start.index, starts[i + 1]?.index ?? source.length);
    const calls = [
      ...block.matchAll(
        /\br\.(\w+)\(\s*'([A-Z][A-Z0-9_]*)'(?:,\s*(?:SHARED_DEFAULTS\.(\w+)|'([^']*)'|(true|false)))?/g,
      ),
    ].map((m) => ({
      kind: m[1]!,
      name: m[2]!,
      // a required variable's second argument is why it is required, not a default
      fallback: m[1] === 'required' ? undefined : m[3] ? defaults.get(m[3]) : (m[4] ?? m[5]),
    }));
    if (calls.length > 0) reads.set(start[1]!, calls);
  });
  if (reads.size === 0)
    throw new Error('no shared variables found in packages/config/src/shared.ts');
  return reads;
}

function patternOf(name: string): RegExp {
  const parts = name.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[A-Z0-9_]+')}$`);
}

function serviceEnv(app: string, files: readonly string[]): ServiceEnv {
  const reads = files.flatMap((file) => {
    const path = repoPath(file);
    if (!existsSync(path))
      throw new Error(`${file} is missing: cannot tell which variables ${app} reads`);
    return envReads(readFileSync(path, 'utf8'));
  });
  if (reads.length === 0) throw new Error(`no EnvReader calls found in ${files.join(', ')}`);
  const literal = new Map(reads.filter((r) => !r.name.includes('${')).map((r) => [r.name, r]));
  const patterns = reads.filter((r) => r.name.includes('${')).map((r) => patternOf(r.name));
  return {
    app,
    names: new Set(literal.keys()),
    reads: (name) => literal.has(name) || patterns.some((p) => p.test(name)),
    defaultOf: (name) => literal.get(name)?.fallback,
    kindOf: (name) => literal.get(name)?.kind,
  };
}

const TELEMETRY_CONFIG = 'packages/telemetry/src/config.ts';

/** The environment contract of `apps/<app>`: its config.ts plus the telemetry package's. */
export function loadServiceEnv(app: string): ServiceEnv {
  return serviceEnv(app, [`apps/${app}/src/config.ts`, TELEMETRY_CONFIG]);
}

/** The services: every app with a main.ts. */
export function serviceApps(): string[] {
  return readdirSync(repoPath('apps')).filter((app) =>
    existsSync(repoPath('apps', app, 'src', 'main.ts')),
  );
}

export interface Listener {
  /** The variable that sets the port. */
  readonly env: string;
  readonly host: string;
  readonly port: number;
  /**
   * http: the health/readiness (and WebSocket) server; grpc: a gRPC server; admin: the gateway's
   * admin API, which stays on loopback unless something beside the pod must call it; mqtt: the
   * gateway's MQTT 5 listener (MQTT_PORT), for clients like the HTTP port.
   */
  readonly protocol: 'http' | 'grpc' | 'admin' | 'mqtt';
}

/**
 * Where the service listens given `env`: each `*_GRPC_ADDRESS` (host:port) and each `*_PORT`
 * with its `*_HOST`, from the value set or the default in config.ts.
 */
export function listeners(service: ServiceEnv, env: Readonly<Record<string, string>>): Listener[] {
  const value = (name: string) => env[name] ?? service.defaultOf(name);
  const out: Listener[] = [];
  for (const name of service.names) {
    if (/_GRPC_ADDRESS$/.test(name) && service.kindOf(name) === 'address') {
      const { host, port } = hostPort(value(name)!);
      out.push({ env: name, host, port, protocol: 'grpc' });
    } else if (name === 'MQTT_PORT' && service.kindOf(name) === 'int') {
      // `off` (or no port at all) turns it off; MQTT_HOST defaults to the gateway's own host
      const port = Number(value(name));
      if (!Number.isInteger(port) || port === 0) continue;
      const host = value('MQTT_HOST') ?? value('GATEWAY_HOST') ?? '127.0.0.1';
      out.push({ env: name, host, port, protocol: 'mqtt' });
    } else if (/_PORT$/.test(name) && service.kindOf(name) === 'int') {
      const hostVar = name.replace(/_PORT$/, '_HOST');
      out.push({
        env: name,
        host: value(hostVar) ?? '127.0.0.1',
        port: Number(value(name)),
        protocol: name === 'ADMIN_PORT' ? 'admin' : 'http',
      });
    }
  }
  return out;
}

/**
 * Variables naming something the service connects to: URLs and `*_ADDRESS` targets that are
 * neither where it listens nor what it advertises.
 */
export function dialVariables(service: ServiceEnv): string[] {
  return [...service.names].filter(
    (name) =>
      service.kindOf(name) === 'url' ||
      (service.kindOf(name) === 'address' && !/_(GRPC|ADVERTISE)_ADDRESS$/.test(name)),
  );
}

/** Whether the default of a dial variable points at this machine (wrong inside a container). */
export function defaultsToLoopback(service: ServiceEnv, name: string): boolean {
  const fallback = service.defaultOf(name);
  if (!fallback || fallback.includes('${')) return false;
  return ['127.0.0.1', 'localhost'].includes(hostPort(fallback).host);
}
