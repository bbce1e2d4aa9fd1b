import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT, jaegerBinary } from '@tracechat/testkit';

export { REPO_ROOT };

export const run = promisify(execFile);

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

export function readText(relative: string): string {
  return readFileSync(repoPath(relative), 'utf8');
}

/** One YAML document, with `<<` merge keys resolved as docker compose resolves them. */
export function parseYaml(text: string): any {
  return parse(text, { merge: true });
}

export function readYaml(relative: string): any {
  return parseYaml(readText(relative));
}

/** Every document of a multi-document YAML file; a document that fails to parse throws. */
export function readYamlDocuments(relative: string): any[] {
  return parseAllDocuments(readText(relative)).map((doc, i) => {
    if (doc.errors.length > 0)
      throw new Error(`${relative}, document ${i + 1}: ${doc.errors[0]!.message}`);
    return doc.toJS({ maxAliasCount: 100 });
  });
}

/**
 * A file of the shared folder that sits beside the repository clone (`<repo>/../shared/`), as CI
 * lays it out; for a clone on its own, the copy kept in `tests/deploy/schema/`. Throws naming both
 * paths when neither exists.
 */
export function sharedFile(name: string): string {
  const path = resolve(REPO_ROOT, '..', 'shared', name);
  if (existsSync(path)) return path;
  const copy = resolve(__dirname, '..', 'schema', name);
  if (existsSync(copy)) return copy;
  throw new Error(`${path} is missing (and there is no copy at ${copy})`);
}

export interface RunResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Runs a command and returns whether it exited 0, with stdout and stderr together. */
export async function tryRun(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; timeout?: number } = {},
): Promise<RunResult> {
  try {
    const { stdout, stderr } = await run(command, [...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      timeout: options.timeout ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { ok: true, output: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

/**
 * The pinned kustomize, built from its Go module by scripts/build-kustomize.sh and cached under
 * ~/.cache/tracechat (`bash .ci/run` builds it first). Throws with the script's output when it
 * cannot be had: a Kubernetes check never passes for want of its tool.
 */
export async function kustomizeBinary(): Promise<string> {
  return builtTool('kustomize', 'scripts/build-kustomize.sh', 15 * 60_000);
}

/**
 * Runs a build script that prints its binary's path as the last line of stdout (progress goes to
 * stderr, which is not read for the path); throws with everything it printed when it fails.
 */
async function builtTool(name: string, script: string, timeout: number): Promise<string> {
  try {
    const { stdout } = await run('bash', [repoPath(script)], {
      cwd: REPO_ROOT,
      timeout,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim().split('\n').pop()!;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${name} could not be built:\n${`${e.stdout ?? ''}${e.stderr ?? ''}` || e.message}`,
    );
  }
}

/**
 * tools/compose-check (Docker Compose's own loader, compose-go), built by
 * scripts/build-compose-check.sh and cached under ~/.cache/tracechat (`bash .ci/run` builds it
 * first). Throws with the script's output when it cannot be had.
 */
export async function composeCheckBinary(): Promise<string> {
  return builtTool('compose-check', 'scripts/build-compose-check.sh', 10 * 60_000);
}

/**
 * Loads Compose files as `docker compose` would (every profile unless `--profile` is given) and
 * returns the resolved project, or compose-go's error when the files are refused. Variables for
 * interpolation come from `env` only, not from this process's environment.
 */
export async function composeCheck(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ ok: true; project: any } | { ok: false; error: string }> {
  const binary = await composeCheckBinary();
  try {
    const { stdout } = await run(binary, [...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 60_000,
    });
    return { ok: true, project: JSON.parse(stdout) };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { ok: false, error: (e.stderr ?? '') || e.message };
  }
}

/** `jaeger validate` over one config or several merged in order (as repeated --config flags). */
export async function jaegerValidate(
  configs: readonly string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  const jaeger = await jaegerBinary();
  return tryRun(jaeger, ['validate', ...configs.flatMap((c) => ['--config', c])], { env });
}

/**
 * Docker compose variable interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?err}`, `${VAR?err}`.
 */
export function interpolate(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      match,
      braced: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      bare: string | undefined,
    ) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare)!;
      const current = env[name];
      if (!op) return current ?? '';
      const missing = current === undefined || (op.startsWith(':') && current === '');
      switch (op.replace(':', '')) {
        case '-':
          return missing ? arg! : current!;
        case '+':
          return missing ? '' : arg!;
        default:
          if (missing) throw new Error(`${name}: ${arg}`);
          return current!;
      }
    },
  );
}

/** Applies `fn` to every string in a parsed YAML/JSON value, keys left alone. */
export function mapStrings(value: unknown, fn: (s: string) => string): any {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn)]));
  }
  return value;
}

/** host and port of `host:port`, `scheme://host:port/…` or `scheme://user:pw@host:port`. */
export function hostPort(address: string): { host: string; port: number } {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(address)
    ? new URL(address)
    : new URL(`tcp://${address}`);
  const port = Number(url.port);
  if (!url.hostname || !Number.isInteger(port) || port === 0) {
    throw new Error(`"${address}" names no host and port`);
  }
  return { host: url.hostname, port };
}
