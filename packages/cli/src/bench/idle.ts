// Memory of an idle connection: gateway-1's resident memory before and after N authenticated
// WebSocket connections that send nothing, each read once the figure has settled.
import { setTimeout as sleep } from 'node:timers/promises';
import { ChatClient } from '@tracechat/client';
import { rssKb } from './procstat';
import { mapLimit, round } from './stats';

export interface IdleResult {
  readonly connections: number;
  readonly opened: number;
  readonly rssBeforeKb: number | null;
  readonly rssAfterKb: number | null;
  readonly kbPerConnection: number | null;
  readonly errors: number;
}

/**
 * Waits until RSS stops moving: the last 4 readings, 500 ms apart, within 1 % (at least 256 KiB)
 * of each other, or 15 s; resolves with their median.
 */
export async function settledRssKb(pid: () => number | undefined): Promise<number | null> {
  const readings: number[] = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    const kb = rssKb(pid());
    if (kb === undefined) return null;
    readings.push(kb);
    const last = readings.slice(-4);
    if (last.length === 4) {
      const spread = Math.max(...last) - Math.min(...last);
      if (spread <= Math.max(256, 0.01 * Math.max(...last)) || Date.now() > deadline)
        return [...last].sort((a, b) => a - b)[1]!;
    }
    await sleep(500);
  }
}

export async function measureIdleConnections(options: {
  readonly url: string;
  readonly connections: number;
  readonly pid: () => number | undefined;
  readonly token: (user: string) => string;
  readonly run: string;
  readonly log?: (line: string) => void;
}): Promise<IdleResult> {
  const before = await settledRssKb(options.pid);
  const clients: ChatClient[] = [];
  let errors = 0;
  try {
    await mapLimit(
      Array.from({ length: options.connections }, (_, i) => i),
      16,
      async (i) => {
        try {
          const token = options.token(`idle-${i}-${options.run}`);
          clients.push(await ChatClient.connect(options.url, { token, timeoutMs: 15_000 }));
        } catch {
          errors++;
        }
        if ((i + 1) % 1000 === 0) options.log?.(`idle connections: ${i + 1} opened`);
      },
    );
    const after = await settledRssKb(options.pid);
    const opened = clients.length;
    return {
      connections: options.connections,
      opened,
      rssBeforeKb: before,
      rssAfterKb: after,
      kbPerConnection:
        before !== null && after !== null && opened > 0
          ? round((after - before) / opened, 2)
          : null,
      errors,
    };
  } finally {
    await mapLimit(clients, 64, (c) => c.close());
  }
}
