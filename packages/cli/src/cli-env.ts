// What every command reads from its environment: the shell's variables, with a dotenv file's
// beneath them when `--env-file` names one.
import { readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { userTokenSecret } from '@tracechat/contracts';

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Where the native stack listens (docs/architecture.md, ports). */
export const Defaults = {
  GATEWAY_URL: 'ws://127.0.0.1:8080/ws',
  JAEGER_QUERY_URL: 'http://127.0.0.1:16686',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tracechat',
} as const;

/**
 * Loads a dotenv file into `target` (process.env by default) without overriding what is already
 * set, as Node's own `--env-file` does: the shell wins. Returns the names it set. A missing or
 * unreadable file is a UsageError.
 */
export function loadEnvFile(
  path: string,
  target: Record<string, string | undefined> = process.env,
): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--env-file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  const set: string[] = [];
  for (const [key, value] of Object.entries(parse(text))) {
    if (target[key] !== undefined && target[key] !== '') continue;
    target[key] = value;
    set.push(key);
  }
  return set;
}

/** The client-token secret the command signs with (`userTokenSecret`), as a UsageError when unusable. */
export function tokenSecret(env: Env): string {
  try {
    return userTokenSecret(env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** An environment variable, empty meaning unset. */
export function envValue(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}
