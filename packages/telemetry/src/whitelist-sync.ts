import { setSamplingWhitelist } from './sdk';

export interface WhitelistSource {
  list(): Promise<{ users: readonly string[]; sessions: readonly string[] }>;
}

export interface WhitelistSync {
  /** Reads the source now; resolves once the sampler has the result. */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Keeps this process's head sampler in step with a shared whitelist (Redis in tracechat):
 * reads it now and every `intervalMs`. A failed read keeps the last known list.
 */
export function startWhitelistSync(
  source: WhitelistSource,
  intervalMs: number,
  onError: (err: unknown) => void,
): WhitelistSync {
  const refresh = async () => {
    const list = await source.list();
    setSamplingWhitelist({ users: new Set(list.users), sessions: new Set(list.sessions) });
  };
  const timer = setInterval(() => {
    refresh().catch(onError);
  }, intervalMs);
  timer.unref();
  refresh().catch(onError);
  return { refresh, stop: () => clearInterval(timer) };
}
